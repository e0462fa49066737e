//! Money as whole US cents, so that totals add up exactly. Sums saturate at the largest amount
//! rather than wrap, so no option or bill can turn a huge cost into a small one.

use std::fmt;
use std::iter::Sum;
use std::ops::{Add, AddAssign};

use serde::{Deserialize, Serialize};

/// An amount of US dollars, held as whole cents.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(transparent)]
pub struct Money(pub u64);

impl Money {
    /// Zero dollars.
    pub const ZERO: Money = Money(0);

    /// From a dollar figure such as `12.47`, rounded to the nearest cent (negative figures become zero).
    pub fn from_dollars(dollars: f64) -> Money {
        Money((dollars * 100.0).round().max(0.0) as u64)
    }

    /// The amount in dollars.
    pub fn dollars(self) -> f64 {
        self.0 as f64 / 100.0
    }

    /// This amount multiplied by `factor`, rounded to the nearest cent.
    pub fn scaled(self, factor: f64) -> Money {
        Money((self.0 as f64 * factor).round().max(0.0) as u64)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "${}.{:02}", self.0 / 100, self.0 % 100)
    }
}

impl Add for Money {
    type Output = Money;
    fn add(self, other: Money) -> Money {
        Money(self.0.saturating_add(other.0))
    }
}

impl AddAssign for Money {
    fn add_assign(&mut self, other: Money) {
        self.0 = self.0.saturating_add(other.0);
    }
}

impl Sum for Money {
    fn sum<I: Iterator<Item = Money>>(iter: I) -> Money {
        iter.fold(Money::ZERO, Add::add)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dollars_round_to_cents_and_display() {
        assert_eq!(Money::from_dollars(7.77), Money(777));
        assert_eq!(Money::from_dollars(105.125).to_string(), "$105.13");
        assert_eq!(Money(30000).to_string(), "$300.00");
        assert_eq!(Money(1247).scaled(2.5), Money(3118));
    }

    #[test]
    fn sums_saturate_instead_of_wrapping() {
        let huge = Money::from_dollars(1e300);
        assert_eq!(huge, Money(u64::MAX));
        assert_eq!(huge + Money(11_290), Money(u64::MAX));
        let mut total = Money(5);
        total += huge;
        assert_eq!(total, Money(u64::MAX));
        assert_eq!([huge, huge].into_iter().sum::<Money>(), Money(u64::MAX));
        assert_eq!(Money(100).scaled(1e300), Money(u64::MAX));
    }
}
