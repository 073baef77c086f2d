//! `ledgerforce sandbox salesforce`: a Salesforce org emulator in the foreground.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use lf_sandbox_salesforce::{DataSet, PushConfig, Sandbox, SandboxConfig, parse_faults};

use crate::CliError;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Loopback port to listen on (0 picks a free one; the URL is printed).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Records to start with: `empty` or `demo`.
    #[arg(long, default_value = "demo")]
    seed: DataSet,
    /// Extra Accounts to add for paging and volume tests.
    #[arg(long, default_value_t = 0)]
    records: usize,
    /// Seed of the fault plan and of outbound duplicates/reordering.
    #[arg(long, default_value_t = 0)]
    fault_seed: u64,
    /// Fault rates, e.g. `503=0.05,lock=0.02,latency=0.1`
    /// (latency, 503, lock, validation, expire, limit, slow).
    #[arg(long, default_value = "")]
    faults: String,
    /// Daily API allowance; calls past it get 403 REQUEST_LIMIT_EXCEEDED.
    #[arg(long, default_value_t = 100_000)]
    daily_limit: u64,
    /// Webhook that receives Outbound Messages (SOAP).
    #[arg(long)]
    outbound_url: Option<String>,
    /// Probability that an acknowledged Outbound Message is delivered again.
    #[arg(long, default_value_t = 0.0)]
    duplicate: f64,
    /// Hold each Outbound Message back up to this many milliseconds, so they arrive out of order.
    #[arg(long, default_value_t = 0)]
    reorder: u64,
    /// Where to write the JWT signing key (PEM). Default: a file in the temp directory.
    #[arg(long)]
    key_file: Option<PathBuf>,
    /// Serve HTTPS with a certificate made at start; its CA (PEM) is written to a file whose
    /// path is printed, for clients to trust (e.g. REQUESTS_CA_BUNDLE, NODE_EXTRA_CA_CERTS).
    #[arg(long)]
    tls: bool,
    /// Where to write that CA certificate. Default: a file beside the JWT key.
    #[arg(long, requires = "tls")]
    tls_cert_file: Option<PathBuf>,
}

/// Writes a PEM file readable by its owner only (the sandbox's demo key, still a key).
pub(crate) fn write_key(path: &Path, pem: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, pem)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

/// What the start-up lines of a running org say beyond what the org itself knows: how it was
/// started and where its key files are. `ledgerforce local` prints the same lines.
pub(crate) struct Banner<'a> {
    pub(crate) seed: DataSet,
    pub(crate) daily_limit: u64,
    pub(crate) faults: &'a str,
    pub(crate) fault_seed: u64,
    /// The webhook, the duplicate probability and the reorder window in milliseconds.
    pub(crate) outbound: Option<(&'a str, f64, u64)>,
    pub(crate) key_file: &'a Path,
    pub(crate) cert_file: Option<&'a Path>,
}

/// Prints the labelled lines (URLs and the demo credentials) and how to get a token.
pub(crate) fn print_banner(org: &Sandbox, banner: &Banner<'_>) {
    let base = org.base_url();
    let creds = org.credentials();
    let accounts = org.records("Account").len();
    println!("Salesforce sandbox running (in memory: everything is lost when it stops)");
    println!("  instance URL:     {base}");
    println!("  token endpoint:   {base}/services/oauth2/token");
    println!("  data set:         {:?}, {accounts} accounts", banner.seed);
    println!("  consumer key:     {}", creds.consumer_key);
    println!("  consumer secret:  {}", creds.consumer_secret);
    println!("  username:         {}", creds.username);
    println!("  password:         {}", creds.password);
    println!(
        "  security token:   {} (optional: SOAP login accepts the password with or without it)",
        lf_sandbox_salesforce::DEMO_SECURITY_TOKEN
    );
    println!("  SOAP login URL:   {base}/services/Soap/u/62.0");
    println!("  org id:           {}", creds.org_id);
    println!("  JWT private key:  {}", banner.key_file.display());
    if let Some(path) = banner.cert_file {
        println!("  TLS certificate:  {}", path.display());
    }
    println!("  daily API limit:  {}", banner.daily_limit);
    if !banner.faults.is_empty() {
        println!(
            "  faults:           {} (seed {})",
            banner.faults, banner.fault_seed
        );
    }
    match banner.outbound {
        Some((url, duplicate, reorder)) => println!(
            "  outbound messages: {url} (duplicate {duplicate}, reorder window {reorder} ms)"
        ),
        None => println!("  outbound messages: off (no --outbound-url)"),
    }
    println!();
    let ca = banner
        .cert_file
        .map(|p| format!(" --cacert {}", p.display()))
        .unwrap_or_default();
    println!("Get a token (client credentials):");
    println!(
        "  curl{ca} -s {base}/services/oauth2/token -u '{}:{}' -d grant_type=client_credentials",
        creds.consumer_key, creds.consumer_secret
    );
    println!("Then:");
    println!(
        "  curl{ca} -s -H \"Authorization: Bearer $TOKEN\" '{base}/services/data/v62.0/query?q=SELECT+Id,Name+FROM+Account+LIMIT+5'"
    );
}

pub(crate) async fn run(args: Args) -> Result<ExitCode, CliError> {
    let fault_rates = parse_faults(&args.faults)?;
    let outbound = args.outbound_url.clone().map(|url| PushConfig {
        duplicate_probability: args.duplicate.clamp(0.0, 1.0),
        reorder_window: Duration::from_millis(args.reorder),
        ..PushConfig::new(url)
    });
    let org = Sandbox::start(SandboxConfig {
        port: args.port,
        seed: args.seed,
        extra_accounts: args.records,
        fault_seed: args.fault_seed,
        fault_rates,
        daily_limit: args.daily_limit,
        outbound,
        tls: args.tls,
        ..Default::default()
    })
    .await?;
    let creds = org.credentials().clone();
    let key_file = args.key_file.clone().unwrap_or_else(|| {
        std::env::temp_dir()
            .join(format!("ledgerforce-sandbox-{}", org.port()))
            .join("salesforce-jwt-key.pem")
    });
    write_key(&key_file, &creds.private_key_pem)
        .map_err(|e| format!("cannot write the JWT key to {}: {e}", key_file.display()))?;
    let cert_file = match org.tls_ca_pem() {
        Some(pem) => {
            let path = args.tls_cert_file.clone().unwrap_or_else(|| {
                key_file
                    .parent()
                    .map_or_else(std::env::temp_dir, PathBuf::from)
                    .join("salesforce-tls-ca.pem")
            });
            write_key(&path, pem).map_err(|e| {
                format!(
                    "cannot write the TLS certificate to {}: {e}",
                    path.display()
                )
            })?;
            Some(path)
        }
        None => None,
    };

    print_banner(
        &org,
        &Banner {
            seed: args.seed,
            daily_limit: args.daily_limit,
            faults: &args.faults,
            fault_seed: args.fault_seed,
            outbound: args
                .outbound_url
                .as_deref()
                .map(|url| (url, args.duplicate, args.reorder)),
            key_file: &key_file,
            cert_file: cert_file.as_deref(),
        },
    );
    println!("Press Ctrl-C to stop.");

    super::wait_for_stop().await;
    let stats = org.outbound_stats();
    let calls = org.api_calls();
    org.shutdown().await;
    let _ = std::fs::remove_file(&key_file);
    if let Some(path) = &cert_file {
        let _ = std::fs::remove_file(path);
    }
    println!(
        "stopped: {calls} API calls; outbound messages delivered {}, pending {}, dropped {}",
        stats.delivered,
        stats.pending(),
        stats.dropped
    );
    Ok(ExitCode::SUCCESS)
}
