//! `modelwatch report`: the server's numbers, offline, from a schema and CSV files.
//! Both files are streamed through core's parallel reader in constant memory: the
//! reference's numeric columns and the current file's ids wait on disk.

use std::path::{Path, PathBuf};

use modelwatch_core::drift::ReferenceProfile;
use modelwatch_core::offline::ids::SeenIds;
use modelwatch_core::offline::parallel::Chunking;
use modelwatch_core::offline::{
    OfflineProfiles, OfflineReference, StreamOptions, reference_stream_csv,
};
use modelwatch_core::time::{MINUTE_MS, now_ms, parse_duration};
use modelwatch_core::{Model, ModelDefinition};
use modelwatch_server::upload::FileSpill;

use crate::report_ids::{SpilledIds, SuspectIds};
use crate::usage::usage;

/// Arguments of `modelwatch report`.
#[derive(clap::Args)]
pub struct ReportArgs {
    /// Model definition (JSON, as for `PUT /api/v1/models/{model}`).
    #[arg(long)]
    schema: PathBuf,
    /// Reference data set (CSV), e.g. the training or validation set.
    #[arg(long)]
    reference: PathBuf,
    /// Current data set (CSV) to measure.
    #[arg(long)]
    current: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Json)]
    format: Format,
    /// Write the report here instead of standard output.
    #[arg(short = 'o', long)]
    output: Option<PathBuf>,
    /// Step of the metric series (a duration such as 1h or 1d).
    #[arg(long, default_value = "1d")]
    step: String,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Json,
    Md,
    Html,
}

fn read_schema(path: &Path) -> anyhow::Result<Model> {
    let text = std::fs::read(path)
        .map_err(|e| usage(format!("cannot read schema {}: {e}", path.display())))?;
    let definition: ModelDefinition = serde_json::from_slice(&text).map_err(|e| {
        usage(format!(
            "schema {} is not a valid model definition: {e}",
            path.display()
        ))
    })?;
    Model::new("report", definition).map_err(|e| usage(format!("schema {}: {e}", path.display())))
}

/// Opens `path` for reading, with a progress bar on a terminal for large files.
fn open_with_progress(
    path: &Path,
    what: &str,
) -> anyhow::Result<(impl std::io::Read, indicatif::ProgressBar)> {
    let file = std::fs::File::open(path)
        .map_err(|e| usage(format!("cannot read {what} {}: {e}", path.display())))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    // indicatif draws only when stderr is a terminal, so pipes and CI stay quiet.
    let bar = indicatif::ProgressBar::new(size).with_message(format!("reading {what}"));
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg} {bar:40} {bytes}/{total_bytes} ({eta})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    if size < 8 * 1024 * 1024 {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let reader = bar.wrap_read(std::io::BufReader::with_capacity(1 << 20, file));
    Ok((reader, bar))
}

fn profile_current(
    path: &Path,
    model: &Model,
    reference: &ReferenceProfile,
    options: &StreamOptions,
) -> anyhow::Result<OfflineProfiles> {
    let now = now_ms();
    let stream = |ids: &mut dyn SeenIds| -> anyhow::Result<OfflineProfiles> {
        let (reader, bar) = open_with_progress(path, "current")?;
        let profiles =
            OfflineProfiles::stream_csv(reader, model, Some(reference), now, options, ids)
                .map_err(|e| usage(format!("current {}: {e}", path.display())))?;
        bar.finish_and_clear();
        Ok(profiles)
    };
    let spill_failed = |e: std::io::Error| usage(format!("cannot keep the ids on disk: {e}"));
    let mut ids = SpilledIds::new().map_err(spill_failed)?;
    let profiles = stream(&mut ids)?;
    let repeated = ids.repeated_hashes().map_err(spill_failed)?;
    if repeated.is_empty() {
        return Ok(profiles);
    }
    // Some id may appear twice: read again, remembering those ids exactly.
    drop(profiles);
    stream(&mut SuspectIds::new(repeated))
}

fn profile_reference(
    path: &Path,
    model: &Model,
    chunking: Chunking,
) -> anyhow::Result<OfflineReference> {
    let (reader, bar) = open_with_progress(path, "reference")?;
    let spill = FileSpill::new(&std::env::temp_dir()).map_err(|e| usage(e.message))?;
    let reference = reference_stream_csv(reader, model, 1, chunking, Some(Box::new(spill)))
        .map_err(|e| usage(format!("reference {}: {e}", path.display())))?;
    bar.finish_and_clear();
    Ok(reference)
}

/// Runs the command.
pub fn run(args: ReportArgs) -> anyhow::Result<()> {
    let step_ms = parse_duration(&args.step).map_err(|e| usage(format!("--step: {e}")))?;
    if step_ms < MINUTE_MS || step_ms % MINUTE_MS != 0 {
        return Err(usage(
            "--step: must be a whole number of minutes, at least 1m",
        ));
    }
    let model = read_schema(&args.schema)?;
    let options = StreamOptions::new(step_ms);
    let reference = profile_reference(&args.reference, &model, options.chunking)?;
    let current = profile_current(&args.current, &model, &reference.profile, &options)?;
    for (what, rejected) in [
        ("reference", reference.rejected.len()),
        ("current", current.rejected.len()),
    ] {
        if rejected > 0 {
            eprintln!("modelwatch: {what}: {rejected} rows rejected (listed in the report)");
        }
    }
    let report = current.report(&model, &reference, step_ms).map_err(usage)?;
    let text = match args.format {
        Format::Json => serde_json::to_string_pretty(&report)? + "\n",
        Format::Md => modelwatch_server::report::markdown(&report),
        Format::Html => modelwatch_server::report::html(&report)?,
    };
    match &args.output {
        Some(path) => std::fs::write(path, text)
            .map_err(|e| usage(format!("cannot write {}: {e}", path.display())))?,
        None => print!("{text}"),
    }
    Ok(())
}
