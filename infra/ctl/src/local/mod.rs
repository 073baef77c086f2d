//! `ledgerforce local`: the whole system in one process, until Ctrl-C or SIGTERM.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use crate::CliError;
use crate::operate::console;
use crate::sandbox::{intacct as intacct_banner, salesforce as salesforce_banner};

mod reconcile;
pub(crate) mod stack;
pub(crate) mod status;

pub(crate) use stack::{Stack, StackOptions};

/// The default data folder, relative to where the command runs.
pub(crate) const DEFAULT_DATA_DIR: &str = ".ledgerforce";

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Loopback port of the Salesforce sandbox (0 = any free port; the URL is printed).
    #[arg(long, default_value_t = 8081)]
    salesforce_port: u16,
    /// Loopback port of the Intacct sandbox (0 = any free port).
    #[arg(long, default_value_t = 8082)]
    intacct_port: u16,
    /// Loopback port of the webhook endpoints (0 = any free port).
    #[arg(long, default_value_t = 8080)]
    webhook_port: u16,
    /// Folder of the embedded store and queues; what is in it survives a restart.
    #[arg(long, default_value = DEFAULT_DATA_DIR)]
    data_dir: PathBuf,
    /// Seconds between two runs of the change poller.
    #[arg(long, default_value_t = 10)]
    poll_interval: u64,
    /// A folder of mapping specs to use instead of the shipped ones.
    #[arg(long)]
    mappings: Option<PathBuf>,
    /// Loopback port of the operator console (0 = any free port).
    #[arg(long, default_value_t = crate::operate::console::DEFAULT_PORT)]
    console_port: u16,
}

impl Args {
    fn options(&self) -> StackOptions {
        StackOptions {
            salesforce_port: self.salesforce_port,
            intacct_port: self.intacct_port,
            webhook_port: self.webhook_port,
            data_dir: self.data_dir.clone(),
            poll_interval: Duration::from_secs(self.poll_interval.max(1)),
            mappings: self.mappings.clone(),
        }
    }
}

pub(crate) async fn run(args: Args) -> Result<ExitCode, CliError> {
    crate::init_logging("info");
    let stopped = crate::sandbox::stop_signal();
    let stack = Stack::start(&args.options()).await?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.console_port))
        .await
        .map_err(|e| format!("cannot listen on 127.0.0.1:{}: {e}", args.console_port))?;
    let console_addr = listener.local_addr()?;
    let console = console::router(console::ConsoleState::new(
        stack.status.store.clone(),
        Some(stack.status.clone()),
    ));
    let (stop_console, console_stopped) = tokio::sync::oneshot::channel::<()>();
    let console_task = tokio::spawn(async move {
        let served = axum::serve(listener, console)
            .with_graceful_shutdown(async move {
                let _ = console_stopped.await;
            })
            .await;
        if let Err(error) = served {
            tracing::error!(%error, "the console stopped");
        }
    });
    print_banner(&stack);
    println!("  console:          http://{console_addr}/ (operator console)");
    println!("Press Ctrl-C to stop.");
    stopped.await;
    let _ = stop_console.send(());
    let _ = console_task.await;
    let summary = stack.usage();
    stack.shutdown().await;
    println!("stopped: {summary}");
    Ok(ExitCode::SUCCESS)
}

/// The start-up lines: both sandboxes as `ledgerforce sandbox` prints them, then the system's.
pub(crate) fn print_banner(stack: &Stack) {
    salesforce_banner::print_banner(
        &stack.salesforce,
        &salesforce_banner::Banner {
            seed: lf_sandbox_salesforce::DataSet::Demo,
            daily_limit: stack.salesforce_daily_limit(),
            faults: "",
            fault_seed: 0,
            outbound: stack.outbound_url().map(|url| (url, 0.0, 0)),
            key_file: &stack.key_file,
            cert_file: None,
        },
    );
    println!();
    intacct_banner::print_banner(
        &stack.intacct,
        &intacct_banner::Banner {
            seed: lf_sandbox_intacct::DataSet::Demo,
            faults: &[],
            fault_seed: 0,
            concurrency_limit: 0,
            smart_event_url: stack.smart_event_url(),
        },
    );
    println!();
    println!("ledgerforce running locally");
    println!("  data folder:      {}", stack.data_dir.display());
    println!("  store and queues: {}", stack.database.path().display());
    let flows: Vec<&str> = stack.queues.iter().map(|(f, _)| f.as_str()).collect();
    println!("  flows:            {}", flows.join(", "));
    println!(
        "  webhooks:         http://{addr}/salesforce/<token> (Outbound Messages), http://{addr}/intacct (Smart Events)",
        addr = stack.webhook_addr
    );
    println!(
        "  status:           http://{}/local/status (queues, deliveries, API calls)",
        stack.webhook_addr
    );
    println!(
        "  reconcile:        POST http://{}/local/reconcile?period=YYYY-MM (revenue-reconciliation; reports in {})",
        stack.webhook_addr,
        stack.data_dir.join("reports").display()
    );
    println!("  syncs are logged below as they happen");
}
