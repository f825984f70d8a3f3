//! `chrysalis demo [DIR]`: the whole path on embedded defaults, printing each step and a
//! final table.

use std::path::PathBuf;
use std::process::ExitCode;

use chrysalis_core::CancelToken;
use chrysalis_pipeline::PipelineEvent;
use chrysalis_pipeline::demo;
use clap::Args;

use crate::output::Output;
use crate::publish_cmds::PhaseBars;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Folder for the demo project (created; an existing demo project is resumed).
    /// Default: ./chrysalis-demo.
    pub dir: Option<PathBuf>,
}

pub fn demo(out: &Output, args: DemoArgs, cancel: &CancelToken) -> anyhow::Result<ExitCode> {
    let dir = args.dir.unwrap_or_else(|| PathBuf::from("chrysalis-demo"));
    let mut bars = PhaseBars::new(out);
    let json = out.is_json();
    let mut on = |e: &PipelineEvent| bars.on_event(e);
    let r = demo::demo(&dir, &mut on, cancel);
    bars.finish();
    let r = r?;
    let verified = r.verify.iter().filter(|v| v.ok).count();
    let evolved: usize = r.evolutions.iter().map(|e| e.evolved.len()).sum();
    let rows = vec![
        ("Project", r.project.clone()),
        ("Collection", r.publish.collection.as_ref().map(|c| c.collection.clone()).unwrap_or_default()),
        (
            "Minted",
            format!("{} ({} SOL spent)", r.publish.mints.len(), chrysalis_chain::client::sol(r.publish.lamports_spent)),
        ),
        ("Evolved", format!("{evolved} evolutions over {} warps", r.warps.len())),
        (
            "Royalties",
            format!(
                "{} SOL paid in, {} SOL distributed",
                chrysalis_chain::client::sol(r.royalties.paid_in.unwrap_or(0)),
                chrysalis_chain::client::sol(r.royalties.distributed.unwrap_or(0))
            ),
        ),
        ("Verified", format!("{verified} of {}", r.verify.len())),
        ("Took", format!("{:.1} s", r.seconds)),
    ];
    out.data(&r, &rows)?;
    if !json {
        crate::output::line("");
        crate::output::line(&format!("{:>5}  {:<44}  {:>5}  {:<60}  metadata CID", "index", "mint", "stage", "URI"));
        for row in &r.rows {
            crate::output::line(&format!(
                "{:>5}  {:<44}  {:>5}  {:<60}  {}{}",
                row.index,
                row.mint,
                row.stage,
                row.uri,
                row.metadata_cid,
                if row.verified { "  ✓" } else { "  ✗" }
            ));
        }
        crate::output::line(&format!(
            "\nNext: `chrysalis verify MINT --project {}` checks any of them on its own.",
            r.project
        ));
    }
    Ok(if verified == r.verify.len() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
