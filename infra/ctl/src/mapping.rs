//! `ledgerforce mapping check|test|schema`: compile the mapping specs of a directory and report
//! every error, run the test cases written inside them, or print the spec JSON Schema.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use lf_mapping::{Diagnostic, MappingError, MappingPlan, ObjectDescribe, SpecBundle, SpecSet};

use crate::CliError;

#[derive(Debug, Subcommand)]
pub(crate) enum MappingCommand {
    /// Compile every spec in DIR and report all errors.
    Check {
        #[arg(default_value = "infra/mappings")]
        dir: PathBuf,
        /// A Salesforce describe (or an Intacct object definition) saved as JSON: the declared
        /// fields of that object are checked against it. Repeatable.
        #[arg(long, value_name = "FILE")]
        describe: Vec<PathBuf>,
        /// Also print, per mapping, the source fields it reads (what the flow selects).
        #[arg(long)]
        reads: bool,
    },
    /// Run the test cases inside every spec in DIR.
    Test {
        #[arg(default_value = "infra/mappings")]
        dir: PathBuf,
    },
    /// Print the JSON Schema of spec files (shipped as infra/mappings/mapping-spec.schema.json).
    Schema,
}

pub(crate) async fn run(cmd: MappingCommand) -> Result<ExitCode, CliError> {
    match cmd {
        MappingCommand::Check {
            dir,
            describe,
            reads,
        } => {
            let describes = describe
                .iter()
                .map(|p| read_describe(p))
                .collect::<Result<Vec<_>, _>>()?;
            let Some(specs) = compile(&dir, &describes)? else {
                return Ok(ExitCode::FAILURE);
            };
            let mut mappings = 0;
            for (flow, file) in specs.flows() {
                let names: Vec<&str> = specs.mappings(flow).map(|(n, _)| n).collect();
                mappings += names.len();
                println!("{:<24} {file:<32} {}", flow.as_str(), names.join(", "));
                if reads {
                    for (name, plan) in specs.mappings(flow) {
                        print_reads(name, plan);
                    }
                }
            }
            println!(
                "ok: {} flows, {mappings} mappings, {} test cases in {}",
                specs.flows().count(),
                specs.test_count(),
                dir.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        MappingCommand::Test { dir } => {
            let Some(specs) = compile(&dir, &[])? else {
                return Ok(ExitCode::FAILURE);
            };
            let report = specs.run_tests();
            println!("{report}");
            if report.outcomes.is_empty() {
                eprintln!("error: no test cases in {}", dir.display());
                return Ok(ExitCode::FAILURE);
            }
            Ok(if report.failed() == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        MappingCommand::Schema => {
            println!(
                "{}",
                serde_json::to_string_pretty(&lf_mapping::json_schema())?
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `  invoice reads Opportunity: Id, Name, Account.BillingCountry` and a line per collection.
fn print_reads(name: &str, plan: &MappingPlan) {
    let reads = plan.reads();
    println!(
        "    {name} reads {}: {}",
        reads.object(),
        reads.paths().join(", ")
    );
    for (collection, lines) in reads.collections() {
        println!(
            "    {:width$}   {collection} ({}): {}",
            "",
            lines.object(),
            lines.paths().join(", "),
            width = name.len()
        );
    }
}

/// Reads a describe saved as JSON.
fn read_describe(path: &Path) -> Result<ObjectDescribe, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", path.display()))?;
    ObjectDescribe::from_json(&json).ok_or_else(|| {
        format!(
            "{} is not a describe: expected {{\"name\": ..., \"fields\": [{{\"name\": ..., \"length\": ...}}]}}",
            path.display()
        )
        .into()
    })
}

/// Compiles the specs of `dir`; prints every error and returns `None` when they do not compile.
fn compile(dir: &Path, describes: &[ObjectDescribe]) -> Result<Option<SpecSet>, CliError> {
    let bundle = SpecBundle::from_dir(dir)?;
    if bundle.is_empty() {
        return Err(format!("no *.yaml spec files in {}", dir.display()).into());
    }
    match bundle.compile_against(describes) {
        Ok(specs) => Ok(Some(specs)),
        Err(MappingError::Invalid(diags)) => {
            // File names relative to DIR read best prefixed with it: infra/mappings/x.yaml:3:5
            for d in diags.iter() {
                let file = dir.join(&d.file).display().to_string();
                eprintln!("{}", Diagnostic { file, ..d.clone() });
            }
            eprintln!("{} error(s); nothing was compiled", diags.len());
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}
