//! Billing (DESIGN.md §3.5): a visit fee per unbroken run of ask/examine turns, and each ordered test at
//! its catalogue price times a multiplier. Repeating an identical order is charged again and flagged.

use serde::{Deserialize, Serialize};

use crate::case::{Case, WorkupStep};
use crate::catalogue::Catalogue;
use crate::money::Money;

/// The cost parameters of an episode.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CostConfig {
    /// Fee for one visit (an unbroken run of ask/examine turns). SDBench uses $300.
    pub visit_fee: Money,
    /// Multiplier applied to every catalogue price (1.0 = Medicare 2025).
    pub price_multiplier: f64,
}

impl Default for CostConfig {
    fn default() -> Self {
        CostConfig {
            visit_fee: Money(30_000),
            price_multiplier: 1.0,
        }
    }
}

/// One line of the bill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Charge {
    /// A visit fee.
    Visit {
        /// Amount charged.
        amount: Money,
    },
    /// A test.
    Test {
        /// Catalogue test id.
        test: String,
        /// Amount charged (price × multiplier).
        amount: Money,
        /// The same test was ordered before in this episode.
        repeat: bool,
    },
}

impl Charge {
    /// The amount of this line.
    pub fn amount(&self) -> Money {
        match self {
            Charge::Visit { amount } | Charge::Test { amount, .. } => *amount,
        }
    }
}

/// Totals of a bill.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct CostTotals {
    /// Number of visits charged.
    pub visit_count: u32,
    /// Number of tests charged (repeats included).
    pub test_count: u32,
    /// Number of repeated tests.
    pub repeat_count: u32,
    /// Sum of visit fees.
    pub visits: Money,
    /// Sum of test charges.
    pub tests: Money,
    /// Everything.
    pub total: Money,
}

/// The running bill of one episode. Totals and repeat detection are kept as it goes, so billing a turn
/// costs the same on the first turn and the thousandth.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Ledger {
    config: CostConfig,
    in_visit: bool,
    charges: Vec<Charge>,
    totals: CostTotals,
    ordered: std::collections::BTreeSet<String>,
}

impl Ledger {
    /// An empty bill with these parameters.
    pub fn new(config: CostConfig) -> Ledger {
        Ledger {
            config,
            ..Ledger::default()
        }
    }

    /// Bills an ask or examine turn: the visit fee if this turn starts a new visit, else nothing.
    pub fn consultation(&mut self) -> Option<Charge> {
        if self.in_visit {
            return None;
        }
        self.in_visit = true;
        let charge = Charge::Visit {
            amount: self.config.visit_fee,
        };
        self.totals.visit_count = self.totals.visit_count.saturating_add(1);
        self.totals.visits += self.config.visit_fee;
        self.totals.total += self.config.visit_fee;
        self.charges.push(charge.clone());
        Some(charge)
    }

    /// Bills an order turn's tests `(test id, catalogue price)`; if any test is ordered, the current
    /// visit ends, so the next ask or examine turn starts (and pays for) a new one.
    pub fn order<'t>(&mut self, tests: impl IntoIterator<Item = (&'t str, Money)>) -> Vec<Charge> {
        let mut billed = Vec::new();
        for (test, price) in tests {
            let repeat = self.ordered.contains(test);
            if !repeat {
                self.ordered.insert(test.to_string());
            }
            let amount = price.scaled(self.config.price_multiplier);
            self.totals.test_count = self.totals.test_count.saturating_add(1);
            self.totals.repeat_count += u32::from(repeat);
            self.totals.tests += amount;
            self.totals.total += amount;
            billed.push(Charge::Test {
                test: test.to_string(),
                amount,
                repeat,
            });
        }
        if !billed.is_empty() {
            self.in_visit = false;
        }
        self.charges.extend(billed.iter().cloned());
        billed
    }

    /// Every charge so far, in order.
    pub fn charges(&self) -> &[Charge] {
        &self.charges
    }

    /// The parameters this bill uses.
    pub fn config(&self) -> CostConfig {
        self.config
    }

    /// The totals so far.
    pub fn totals(&self) -> CostTotals {
        self.totals
    }
}

/// What a case's reference work-up costs under `config`, billed exactly as an episode would be.
pub fn workup_cost(case: &Case, catalogue: &Catalogue, config: CostConfig) -> CostTotals {
    let mut ledger = Ledger::new(config);
    for step in &case.reference_workup {
        match step {
            WorkupStep::Ask { .. } | WorkupStep::Examine { .. } => {
                ledger.consultation();
            }
            WorkupStep::Order { tests } => {
                ledger.order(tests.iter().filter_map(|id| {
                    workup_test_price(case, catalogue, id).map(|price| (id.as_str(), price))
                }));
            }
        }
    }
    ledger.totals()
}

/// The price of a test a reference work-up orders: the catalogue's, or a case-specific test's own
/// (an imported case's result the catalogue has no name for).
pub fn workup_test_price(case: &Case, catalogue: &Catalogue, id: &str) -> Option<Money> {
    match catalogue.test(id) {
        Some(test) => Some(test.price),
        None => case
            .test(id)
            .filter(|test| test.is_case_specific())
            .map(|test| Money::from_dollars(test.price_usd.unwrap_or_default())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_visit_fee_per_unbroken_run_of_questions() {
        let mut ledger = Ledger::new(CostConfig::default());
        assert!(ledger.consultation().is_some());
        assert!(ledger.consultation().is_none());
        ledger.order([("cbc", Money(777))]);
        assert!(ledger.consultation().is_some(), "an order ends the visit");
        let totals = ledger.totals();
        assert_eq!(totals.visit_count, 2);
        assert_eq!(totals.visits, Money(60_000));
        assert_eq!(totals.total, Money(60_777));
    }

    #[test]
    fn price_multiplier_scales_tests_not_visits() {
        let mut ledger = Ledger::new(CostConfig {
            visit_fee: Money(10_000),
            price_multiplier: 2.0,
        });
        ledger.consultation();
        ledger.order([("troponin", Money(1247)), ("ecg", Money(1391))]);
        assert_eq!(ledger.totals().tests, Money(5276));
        assert_eq!(ledger.totals().visits, Money(10_000));
    }

    #[test]
    fn repeated_order_is_charged_again_and_flagged() {
        let mut ledger = Ledger::new(CostConfig::default());
        ledger.order([("cbc", Money(777))]);
        let again = ledger.order([("cbc", Money(777)), ("cbc", Money(777))]);
        assert!(
            again
                .iter()
                .all(|charge| matches!(charge, Charge::Test { repeat: true, .. }))
        );
        assert_eq!(ledger.totals().repeat_count, 2);
        assert_eq!(ledger.totals().tests, Money(2331));
    }

    #[test]
    fn workup_cost_bills_visits_and_tests_like_an_episode() {
        let catalogue = Catalogue::builtin();
        let case = Case {
            reference_workup: vec![
                WorkupStep::Ask {
                    text: "When did it start?".into(),
                },
                WorkupStep::Examine {
                    system: "abdomen".into(),
                },
                WorkupStep::Order {
                    tests: vec!["cbc".into(), "lipase".into()],
                },
                WorkupStep::Ask {
                    text: "Any vomiting?".into(),
                },
            ],
            ..Case::default()
        };
        let totals = workup_cost(&case, catalogue, CostConfig::default());
        let price = |id: &str| catalogue.test(id).expect("exists").price;
        assert_eq!(totals.visit_count, 2);
        assert_eq!(totals.tests, price("cbc") + price("lipase"));
        assert_eq!(totals.total, Money(60_000) + totals.tests);
    }

    #[test]
    fn an_order_of_nothing_does_not_end_the_visit() {
        let mut ledger = Ledger::new(CostConfig::default());
        ledger.consultation();
        assert!(ledger.order(std::iter::empty()).is_empty());
        assert!(ledger.consultation().is_none());
    }
}
