//! `stepwasm graph`: a definition drawn as SVG, Graphviz DOT or Mermaid.

use super::inputs::{load_definition, state_machine_name};
use anyhow::{Context as _, Result};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct GraphArgs {
    /// The state machine definition (ASL JSON).
    definition: PathBuf,
    #[arg(long, value_enum, default_value_t = GraphFormat::Svg)]
    format: GraphFormat,
    /// Write the picture here instead of to standard output.
    #[arg(long, short)]
    output: Option<PathBuf>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum GraphFormat {
    Svg,
    Dot,
    Mermaid,
}

/// The `graph` subcommand: the definition's picture, offline.
pub fn graph(args: GraphArgs) -> Result<ExitCode> {
    let machine = load_definition(&args.definition)?;
    let diagram = crate::graph::Diagram::of(&machine);
    let title = state_machine_name(&args.definition);
    let text = match args.format {
        GraphFormat::Svg => crate::graph::svg::svg(&diagram, &title),
        GraphFormat::Dot => crate::graph::text::dot(&diagram, &title),
        GraphFormat::Mermaid => crate::graph::text::mermaid(&diagram),
    };
    match &args.output {
        Some(path) => std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?,
        None => print!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}
