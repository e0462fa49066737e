//! `dxsim catalogue …`: resolve requests the way the gatekeeper does, and list tests with prices.

use std::io::{self, Write};

use clap::Subcommand;
use dxsim_gatekeeper::catalogue::{Category, Reporting};
use dxsim_gatekeeper::resolve::{MatchKind, OrderOutcome};
use dxsim_gatekeeper::{Catalogue, Resolver};
use serde::Serialize;

use super::{Outcome, UserError};

#[derive(Debug, Subcommand)]
pub(crate) enum CatalogueCommand {
    /// Resolve a request as the gatekeeper would ("cbc, u&e and a chest x-ray") and show prices.
    Search {
        /// The request; several words are joined.
        #[arg(required = true)]
        text: Vec<String>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// List every orderable test with its price.
    List {
        /// Only this category (lab, microbiology, pathology, imaging, cardiology, neurology, procedure).
        #[arg(long)]
        category: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

pub(crate) fn run(command: CatalogueCommand) -> anyhow::Result<Outcome> {
    match command {
        CatalogueCommand::Search { text, json } => search(&text.join(" "), json),
        CatalogueCommand::List { category, json } => list(category.as_deref(), json),
    }
}

#[derive(Serialize)]
struct Found<'a> {
    request: &'a str,
    #[serde(flatten)]
    outcome: &'a OrderOutcome,
    tests: Vec<TestLine<'a>>,
}

#[derive(Serialize)]
struct TestLine<'a> {
    id: &'a str,
    name: &'a str,
    category: &'static str,
    price: String,
    price_basis: &'a str,
    cpt: &'a str,
}

fn test_line(catalogue: &Catalogue, index: usize) -> TestLine<'_> {
    let test = &catalogue.tests()[index];
    TestLine {
        id: &test.id,
        name: &test.name,
        category: test.category.as_str(),
        price: test.price.to_string(),
        price_basis: &test.price_basis,
        cpt: &test.cpt,
    }
}

fn describe(via: MatchKind) -> String {
    match via {
        MatchKind::Exact => "exact".to_string(),
        MatchKind::Synonym => "synonym".to_string(),
        MatchKind::Abbreviation => "abbreviation".to_string(),
        MatchKind::Fuzzy { score } => format!("fuzzy {score:.2}"),
    }
}

fn search(text: &str, json: bool) -> anyhow::Result<Outcome> {
    let catalogue = Catalogue::builtin();
    let resolver = Resolver::new(catalogue);
    let resolved = resolver.resolve_order_request(text);
    let found: Vec<Found<'_>> = resolved
        .iter()
        .map(|(request, outcome)| {
            let tests = match outcome {
                OrderOutcome::Test { test, .. } => vec![*test],
                OrderOutcome::Analyte { analyte, .. } => catalogue
                    .tests_reporting(*analyte)
                    .iter()
                    .copied()
                    .take(3)
                    .collect(),
                OrderOutcome::Vague { suggestions } => suggestions.clone(),
                OrderOutcome::Unknown { nearest } => nearest.clone(),
                OrderOutcome::Interpretation => Vec::new(),
            };
            Found {
                request,
                outcome,
                tests: tests
                    .into_iter()
                    .map(|index| test_line(catalogue, index))
                    .collect(),
            }
        })
        .collect();
    let mut out = io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &found)?;
        writeln!(out)?;
        return Ok(Outcome::Success);
    }
    for item in &found {
        let headline = match item.outcome {
            OrderOutcome::Test { via, .. } => format!("test ({})", describe(*via)),
            OrderOutcome::Analyte { analyte, via } => format!(
                "component `{}` ({}), reported by",
                catalogue.analytes()[*analyte].name,
                describe(*via)
            ),
            OrderOutcome::Vague { .. } => "too vague to order; name one of".to_string(),
            OrderOutcome::Interpretation => {
                "refused: the gatekeeper reports findings, it does not interpret".to_string()
            }
            OrderOutcome::Unknown { .. } => "not recognised; nearest".to_string(),
        };
        writeln!(out, "\"{}\": {headline}", item.request)?;
        for test in &item.tests {
            writeln!(
                out,
                "  {:<32} {:<48} {:>9}  {}",
                test.id, test.name, test.price, test.price_basis
            )?;
        }
    }
    Ok(Outcome::Success)
}

fn list(category: Option<&str>, json: bool) -> anyhow::Result<Outcome> {
    let catalogue = Catalogue::builtin();
    let wanted: Option<Category> = match category {
        None => None,
        Some(name) => Some(
            serde_json::from_value(serde_json::Value::String(name.to_string())).map_err(|_| {
                UserError::new(
                    format!("unknown category `{name}`"),
                    Some("use one of: lab, microbiology, pathology, imaging, cardiology, neurology, procedure".into()),
                )
            })?,
        ),
    };
    let lines: Vec<TestLine<'_>> = (0..catalogue.tests().len())
        .filter(|&index| {
            wanted.is_none_or(|category| catalogue.tests()[index].category == category)
        })
        .map(|index| test_line(catalogue, index))
        .collect();
    let mut out = io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &lines)?;
        writeln!(out)?;
        return Ok(Outcome::Success);
    }
    for line in &lines {
        let kind = match catalogue.test(line.id).map(|test| &test.reporting) {
            Some(Reporting::Analytes(list)) => format!("{} value(s)", list.len()),
            _ => "report".to_string(),
        };
        writeln!(
            out,
            "{:<32} {:<48} {:<12} {:>9}  {}",
            line.id, line.name, line.category, line.price, kind
        )?;
    }
    writeln!(out, "{} test(s)", lines.len())?;
    Ok(Outcome::Success)
}
