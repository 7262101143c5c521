//! The `lotse-relay` command line: `serve` (the default) and the admin
//! commands `user`, `sessions` and `recordings`. `main.rs` only calls
//! [`main`].

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};

use crate::printable::{printable, printable_lines};
use crate::{auth, recording, server, store};

#[derive(Debug, Parser)]
#[command(
    name = "lotse-relay",
    version,
    about = "Lotse relay: portal, downloads, queue and session routing over TLS"
)]
struct Cli {
    /// Directory for the certificate, database, config and secret.
    #[arg(long, default_value = "lotse-relay-data")]
    data_dir: PathBuf,
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "0.0.0.0:8443")]
    listen: String,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Technician accounts.
    User {
        #[command(subcommand)]
        action: UserAction,
    },
    /// Session records.
    Sessions {
        #[command(subcommand)]
        action: SessionsAction,
    },
    /// Session recordings (made only where the customer allowed it).
    Recordings {
        #[command(subcommand)]
        action: RecordingsAction,
    },
}

#[derive(Debug, Subcommand)]
enum RecordingsAction {
    /// Sessions with a recording, and its size.
    List,
    /// Copy one session's recording to FILE (play it with `lotse-console --play FILE`).
    Export { session: u64, file: PathBuf },
}

#[derive(Debug, Subcommand)]
enum UserAction {
    /// Add a technician (password from stdin when it is not a terminal).
    Add {
        name: String,
        /// Name shown to customers (default: NAME).
        #[arg(long)]
        display_name: Option<String>,
    },
    /// List technicians.
    List,
    /// Remove a technician.
    Remove { name: String },
}

#[derive(Debug, Subcommand)]
enum SessionsAction {
    /// The most recent sessions.
    List {
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Everything recorded about one session.
    Show { id: u64 },
}

/// Parse the command line and run it.
pub fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lotse-relay: {}", printable_lines(&format!("{e:#}")));
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    match cli.command {
        None => serve(&cli.data_dir, &cli.listen),
        Some(Command::User { action }) => user(&cli.data_dir, action),
        Some(Command::Sessions { action }) => sessions(&cli.data_dir, action),
        Some(Command::Recordings { action }) => recordings(&cli.data_dir, action),
    }
}

fn serve(data_dir: &std::path::Path, listen: &str) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("relay")
        .build()?;
    runtime.block_on(server::run(
        data_dir,
        listen,
        |addr, fingerprint| {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "listening on https://{addr}");
            let _ = writeln!(out, "certificate sha256 {fingerprint}");
            let _ = out.flush();
        },
        async {
            let ctrl_c = tokio::signal::ctrl_c();
            #[cfg(unix)]
            {
                let mut term =
                    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    {
                        Ok(s) => s,
                        Err(_) => {
                            let _ = ctrl_c.await;
                            return;
                        }
                    };
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            #[cfg(not(unix))]
            {
                let _ = ctrl_c.await;
            }
        },
    ))
}

/// Print CLI output: every control character in it escaped except its
/// own line breaks (fields holding customer text are escaped whole, line
/// breaks included, where they are formatted: `printable`).
fn out(text: &str) {
    print!("{}", printable_lines(text));
}

fn open_store(data_dir: &std::path::Path) -> anyhow::Result<store::Store> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create {}", data_dir.display()))?;
    Ok(store::Store::open(&data_dir.join("relay.sqlite"))?)
}

fn user(data_dir: &std::path::Path, action: UserAction) -> anyhow::Result<()> {
    let store = open_store(data_dir)?;
    match action {
        UserAction::Add { name, display_name } => {
            if name.is_empty()
                || name.len() > 64
                || !name
                    .chars()
                    .all(|c| c.is_alphanumeric() || "._-@".contains(c))
            {
                bail!("a user name has 1 to 64 letters, digits, '.', '_', '-' or '@'");
            }
            let password = if std::io::stdin().is_terminal() {
                let first = rpassword::prompt_password(format!("password for {name}: "))?;
                let again = rpassword::prompt_password("again: ")?;
                if first != again {
                    bail!("the two passwords differ");
                }
                first
            } else {
                let mut line = String::new();
                std::io::stdin().lock().read_line(&mut line)?;
                line.trim_end_matches(['\r', '\n']).to_owned()
            };
            if password.chars().count() < 8 {
                bail!("the password needs at least 8 characters");
            }
            let hash =
                auth::hash_password(&password).map_err(|e| anyhow::anyhow!("cannot hash: {e}"))?;
            store.add_user(&name, display_name.as_deref().unwrap_or(&name), &hash)?;
            out(&format!("added {name}\n"));
        }
        UserAction::List => {
            for u in store.users()? {
                out(&format!(
                    "{}\t{}\t{}\n",
                    printable(&u.name),
                    printable(&u.display_name),
                    store::format_ms(u.created_ms)
                ));
            }
        }
        UserAction::Remove { name } => {
            if !store.remove_user(&name)? {
                bail!("no user {name}");
            }
            out(&format!("removed {name}\n"));
        }
    }
    Ok(())
}

fn sessions(data_dir: &std::path::Path, action: SessionsAction) -> anyhow::Result<()> {
    let store = open_store(data_dir)?;
    match action {
        SessionsAction::List { limit } => out(&store.session_list(limit)?),
        SessionsAction::Show { id } => match store.session_report(id)? {
            Some(report) => out(&report),
            None => bail!("no session {id}"),
        },
    }
    Ok(())
}

fn recordings(data_dir: &std::path::Path, action: RecordingsAction) -> anyhow::Result<()> {
    let dir = data_dir.join(recording::DIR_NAME);
    match action {
        RecordingsAction::List => {
            let mut found: Vec<(u64, u64)> = std::fs::read_dir(&dir)
                .map(|entries| {
                    entries
                        .filter_map(Result::ok)
                        .filter_map(|e| {
                            let sid = recording::session_of(&e.file_name().to_string_lossy())?;
                            Some((sid, e.metadata().ok()?.len()))
                        })
                        .collect()
                })
                .unwrap_or_default();
            found.sort_unstable();
            for (sid, size) in found {
                out(&format!("{sid}\t{size} bytes\n"));
            }
        }
        RecordingsAction::Export { session, file } => {
            let from = recording::file_path(&dir, session);
            if !from.exists() {
                bail!("session {session} has no recording");
            }
            std::fs::copy(&from, &file)
                .with_context(|| format!("cannot copy {} to {}", from.display(), file.display()))?;
            out(&format!(
                "exported session {session} to {}\n",
                file.display()
            ));
        }
    }
    Ok(())
}
