//! `lotse-console`: the technician console window, or `--headless` for
//! scripts (commands on stdin, JSON events on stdout), or `--play FILE`
//! for a session recording (see `playback`).

mod playback;

use clap::Parser;

#[derive(Debug, Parser)]
#[command(name = "lotse-console", version, about = "Lotse technician console")]
struct Cli {
    /// Read commands on stdin and print events as JSON lines; no window.
    #[arg(long)]
    headless: bool,
    /// Relay address, e.g. wss://relay.example:443 or https://host:port.
    #[arg(long, value_name = "URL")]
    relay: Option<String>,
    /// SHA-256 of the relay certificate (64 hex digits); without it the
    /// certificate is trusted on first use and its hash shown.
    #[arg(long, value_name = "HEX")]
    pin: Option<String>,
    /// User interface language (de or en); default from the environment.
    #[arg(long, value_name = "LANG")]
    lang: Option<String>,
    /// Play a session recording (from `GET /api/recordings/ID` or
    /// `lotse-relay recordings export`) in a window.
    #[arg(long, value_name = "FILE")]
    play: Option<std::path::PathBuf>,
    /// With --play: no window; write the final picture to this PNG file
    /// and print the chat lines and a summary as JSON lines.
    #[arg(long, value_name = "PNG", requires = "play")]
    export_png: Option<std::path::PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    if let Some(file) = &cli.play {
        return match &cli.export_png {
            Some(png) => playback::export(file, png),
            None => playback::run_window(file, cli.lang.as_deref()),
        };
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    if cli.headless {
        let options = lotse_console::headless::Options {
            relay: cli.relay,
            pin: cli.pin,
        };
        let result = runtime.block_on(lotse_console::headless::run(options));
        runtime.shutdown_timeout(std::time::Duration::from_secs(1));
        return result;
    }
    lotse_console::app::run(&runtime, cli.relay, cli.pin, cli.lang)
}
