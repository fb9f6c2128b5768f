//! `modelwatch token create|list|revoke`: API tokens, kept in the store of a data
//! directory as hashes. The secret is printed once, by `create`.
//!
//! A local admin command: it opens the SQLite store of `--data-dir` itself, and
//! changes tokens through the storage boundary ([`TokenStorage`]), as a server does.

use std::path::PathBuf;

use modelwatch_server::auth::{Scope, hash, new_secret};
use modelwatch_store::{SqliteStore, StoreOptions, TokenStorage};

use crate::usage::usage;

/// Arguments of `modelwatch token`.
#[derive(clap::Args)]
pub struct TokenArgs {
    #[command(subcommand)]
    action: TokenAction,
}

#[derive(clap::Subcommand)]
enum TokenAction {
    /// Create a token and print its secret (shown only this once).
    Create {
        /// Directory of the embedded store.
        #[arg(long, default_value = "modelwatch-data")]
        data_dir: PathBuf,
        /// Scopes, comma-separated: ingest, read, admin.
        #[arg(long, value_delimiter = ',', required = true)]
        scope: Vec<String>,
        /// Restrict the token to these models (repeat or comma-separate); default: all.
        #[arg(long, value_delimiter = ',')]
        model: Vec<String>,
        /// A name for people.
        #[arg(long, default_value = "")]
        name: String,
    },
    /// List tokens (never their secrets).
    List {
        /// Directory of the embedded store.
        #[arg(long, default_value = "modelwatch-data")]
        data_dir: PathBuf,
    },
    /// Revoke a token by id (effective within a second on a running server).
    Revoke {
        /// Directory of the embedded store.
        #[arg(long, default_value = "modelwatch-data")]
        data_dir: PathBuf,
        /// The token's id (from `list`).
        id: i64,
    },
}

/// Opens the store; `create` also makes a new one (tokens come before the first start
/// of a server that requires them).
fn open(data_dir: &std::path::Path, create: bool) -> anyhow::Result<SqliteStore> {
    if !create && !modelwatch_store::database_path(data_dir).exists() {
        return Err(usage(format!(
            "no modelwatch store in {} (start `modelwatch serve --data-dir {}` once, or check the path)",
            data_dir.display(),
            data_dir.display()
        )));
    }
    Ok(SqliteStore::open(data_dir, StoreOptions::default())?)
}

/// Runs a `token` action.
pub async fn run(args: TokenArgs) -> anyhow::Result<()> {
    match args.action {
        TokenAction::Create {
            data_dir,
            scope,
            model,
            name,
        } => {
            let mut scopes = Vec::new();
            for text in &scope {
                let parsed = Scope::parse(text.trim()).ok_or_else(|| {
                    usage(format!(
                        "--scope: unknown scope `{text}` (use ingest, read or admin)"
                    ))
                })?;
                if !scopes.contains(&parsed) {
                    scopes.push(parsed);
                }
            }
            scopes.sort();
            for m in &model {
                modelwatch_core::schema::validate_model_name(m)
                    .map_err(|e| usage(format!("--model: {}", e.message)))?;
            }
            if name.len() > 256 {
                return Err(usage("--name: at most 256 bytes"));
            }
            let store = open(&data_dir, true)?;
            let secret = new_secret();
            let (hashed, scopes_text) = (
                hash(&secret),
                scopes
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
            );
            let models = (!model.is_empty()).then(|| model.join(","));
            let now = modelwatch_core::time::now_ms();
            let id = store
                .create_token(&name, &hashed, &scopes_text, models.as_deref(), now)
                .await?;
            eprintln!("token {id} created; its secret is shown only now:");
            println!("{secret}");
            Ok(())
        }
        TokenAction::List { data_dir } => {
            let store = open(&data_dir, false)?;
            let rows = store.list_tokens()?;
            println!(
                "{:>4}  {:<20}  {:<18}  {:<24}  {:<24}  revoked",
                "id", "name", "scopes", "models", "created"
            );
            for row in rows {
                println!(
                    "{:>4}  {:<20}  {:<18}  {:<24}  {:<24}  {}",
                    row.id,
                    row.name,
                    row.scopes,
                    row.models.as_deref().unwrap_or("(all)"),
                    modelwatch_core::time::format_timestamp(row.created_ms),
                    row.revoked_ms
                        .map(modelwatch_core::time::format_timestamp)
                        .unwrap_or_default()
                );
            }
            Ok(())
        }
        TokenAction::Revoke { data_dir, id } => {
            let store = open(&data_dir, false)?;
            let now = modelwatch_core::time::now_ms();
            if store.revoke_token(id, now).await? {
                eprintln!("token {id} revoked");
                Ok(())
            } else {
                Err(usage(format!("no active token with id {id}")))
            }
        }
    }
}
