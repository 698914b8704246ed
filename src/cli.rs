//! The command line: what an admin types. Each subcommand maps to one module of the binary.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::check_ad::CheckAdFormat;

#[derive(Debug, Parser)]
#[command(
    name = "adgate",
    version,
    about = "RADIUS for VPN logins, decided by Active Directory"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the RADIUS server in the foreground (logs to stderr).
    Serve {
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Validate the config file and the files it names, then exit.
    CheckConfig {
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Show how a login of USER (or with certificate FILE) would be decided against AD now:
    /// the certificate checks and identity, the account found, each account-state attribute,
    /// telework membership and its group path, every check, the reply attributes, the verdict.
    /// Never binds as the user unless --password-prompt. Exit 0 accept, 1 reject.
    Explain {
        #[arg(long, short)]
        config: PathBuf,
        /// A user name as a NAS would send it (PAP).
        #[arg(long, required_unless_present = "cert", conflicts_with = "cert")]
        user: Option<String>,
        /// A client certificate (PEM, the user's first, then intermediates), checked as the
        /// EAP-TLS login would check it; needs an [eap_tls] section.
        #[arg(long, value_name = "FILE.pem")]
        cert: Option<PathBuf>,
        /// Read the password from stdin (not echoed on a terminal) and check it with a bind;
        /// a wrong one counts toward AD's lockout like any failed login.
        #[arg(long, conflicts_with = "cert")]
        password_prompt: bool,
    },
    /// Hold Active Directory against the telework policy: password and lockout policy,
    /// fine-grained password policies, the built-in Administrator and Guest, the telework
    /// members' states, names certificate logins would find twice. Reads AD with the service
    /// account. Exit 0 nothing fails, 1 something fails, 2 AD could not be checked.
    CheckAd {
        #[arg(long, short)]
        config: PathBuf,
        #[arg(long, value_enum, default_value_t = CheckAdFormat::Text)]
        format: CheckAdFormat,
    },
    /// Check, search and sign the audit trail.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// The live VPN sessions of the running server: list them, or cut one by hand (RFC 5176
    /// Disconnect). Talks to the server's control socket; root, adgate's user or its group.
    #[command(subcommand)]
    Sessions(SessionsCommand),
    /// Act as a VPN appliance (NAS) for tests, the demo and benchmarks.
    #[command(subcommand)]
    Nas(Box<NasCommand>),
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Prove the trail in DIR was not edited, or name the first break (file, line, seq).
    /// Exit 0 intact, 1 broken, 2 could not check.
    Verify {
        /// The audit directory (audit.dir).
        dir: PathBuf,
        /// Signed checkpoints that left the machine, e.g. the syslog collector's file.
        #[arg(long)]
        checkpoints: Option<PathBuf>,
        /// Public key of the checkpoint signing key (from `adgate audit keygen`).
        #[arg(long)]
        pubkey: Option<PathBuf>,
    },
    /// One user's decisions (and accounting records) in time order, or the records of one
    /// type (e.g. `--type config`: the configuration's history; `--type ad_check`).
    Query {
        dir: PathBuf,
        /// Name as sent, sAMAccountName or userPrincipalName (case-insensitive).
        #[arg(long, required_unless_present = "kind")]
        user: Option<String>,
        /// Only records of this type (docs/audit-schema.md), e.g. config, ad_check, decision.
        #[arg(long = "type", id = "kind")]
        kind: Option<String>,
        /// Only records at or after this time (RFC 3339, or YYYY-MM-DD meaning midnight UTC).
        #[arg(long)]
        since: Option<String>,
        /// Only records at or before this time.
        #[arg(long)]
        until: Option<String>,
        /// Print the records themselves (JSON lines) instead of a summary line each.
        #[arg(long)]
        json: bool,
    },
    /// Summarise a period for people: logins, sessions and connected time per user, refusals
    /// by reason, failing sources, brute-force and password-spraying suspects, logins outside
    /// business hours, new source addresses, sessions cut. Verifies the trail first and
    /// refuses a broken one (exit 1) unless --force. Exit 0 with the report, 2 on an error.
    Report(Box<ReportArgs>),
    /// Make an Ed25519 key pair for signing checkpoints (keep the private key outside the
    /// audit directory).
    Keygen {
        /// Where to write the private key (PKCS#8 PEM, mode 0600); must not exist.
        #[arg(long)]
        key: PathBuf,
        /// Where to write the public key (PEM), for `verify --pubkey`.
        #[arg(long)]
        pubkey: PathBuf,
    },
}

/// `adgate audit report`'s arguments (docs/audit.md, "The access report").
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The audit directory (audit.dir).
    pub dir: PathBuf,
    /// Start of the period (RFC 3339, or YYYY-MM-DD meaning midnight UTC).
    #[arg(long)]
    pub since: String,
    /// End of the period, exclusive (same forms; default: now).
    #[arg(long)]
    pub until: Option<String>,
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
    /// Write the report here instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Report even from a broken trail; the first line of the output then says so.
    #[arg(long)]
    pub force: bool,
    /// Public key of the checkpoint signing key: check signatures as `audit verify` does.
    #[arg(long)]
    pub pubkey: Option<PathBuf>,
    /// Signed checkpoints that left the machine (needs --pubkey), as for `audit verify`.
    #[arg(long)]
    pub checkpoints: Option<PathBuf>,
    /// Working hours, HH:MM-HH:MM on the --tz clock (start inclusive, end exclusive).
    #[arg(long, default_value = "07:00-19:00")]
    pub business_hours: String,
    /// Working days: mon-fri, mon,wed,fri, mon-fri,sat ...
    #[arg(long, default_value = "mon-fri")]
    pub business_days: String,
    /// The clock for days and business hours: `local` (the machine's zone), `UTC`, or a fixed
    /// offset such as +01:00 (no daylight saving time).
    #[arg(long, default_value = "local")]
    pub tz: String,
    /// Failures count toward a suspect within this many minutes of each other.
    #[arg(long, default_value_t = 60)]
    pub window_minutes: u32,
    /// Brute-force suspect: this many failed logins of one user within the window.
    #[arg(long, default_value_t = 10)]
    pub brute_force_failures: usize,
    /// Password-spraying suspect: this many distinct users failing from one
    /// Calling-Station-Id within the window.
    #[arg(long, default_value_t = 5)]
    pub spray_users: usize,
}

/// How `adgate audit report` lays the report out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// For a terminal or an e-mail.
    Text,
    /// One JSON object on one line, for scripts.
    Json,
    /// One self-contained HTML page with inline SVG charts.
    Html,
}

#[derive(Debug, Subcommand)]
pub enum SessionsCommand {
    /// The sessions adgate watches: from accounting, and accepts awaiting their
    /// Accounting-Start.
    List {
        #[arg(long, short)]
        config: PathBuf,
        /// One JSON answer line instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Cut the live sessions of a user (User-Name as the NAS sent it, sAMAccountName or UPN),
    /// or one session, and record it with who asked. Exit 0 when the NAS confirmed every cut.
    Disconnect {
        #[arg(long, short)]
        config: PathBuf,
        #[arg(long, required_unless_present = "session")]
        user: Option<String>,
        /// An Acct-Session-Id, as `adgate sessions list` shows it.
        #[arg(long)]
        session: Option<String>,
        /// Why, for the record (e.g. "stolen laptop").
        #[arg(long)]
        reason: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum NasCommand {
    /// Send one PAP Access-Request and print the answer. Exit 0 on accept, 1 on reject.
    Pap {
        #[command(flatten)]
        target: NasTarget,
        /// File holding the user's password (never pass passwords as arguments).
        #[arg(long)]
        password_file: PathBuf,
        /// User-Name to send.
        user: String,
    },
    /// One MS-CHAPv2 login (RFC 2548) computed from the password. Exit 0 on an accept whose
    /// MS-CHAP2-Success and MPPE keys are the ones the password implies, 1 otherwise.
    MsChapv2 {
        #[command(flatten)]
        target: NasTarget,
        /// File holding the user's password (never pass passwords as arguments).
        #[arg(long)]
        password_file: PathBuf,
        /// User-Name to send (`alice`, `CORP\alice`, a UPN).
        user: String,
    },
    /// One EAP-TLS login with adgate's own peer. Exit 0 on accept with MPPE keys equal to the
    /// MSK, 1 on reject.
    EapTls {
        #[command(flatten)]
        target: NasTarget,
        #[command(flatten)]
        peer: EapTlsPeerArgs,
        /// EAP identity (and User-Name) to send.
        user: String,
    },
    /// Drive full EAP-TLS handshakes at a fixed concurrency and print handshakes/s.
    BenchEapTls {
        #[command(flatten)]
        target: NasTarget,
        #[command(flatten)]
        peer: EapTlsPeerArgs,
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
        #[arg(long, default_value_t = 500)]
        requests: usize,
        user: String,
    },
    /// Start many EAP-TLS logins, pause each after a few round trips, hold them all open,
    /// then finish them (deploy/bench-eap-memory.sh). Exit 0 if every one was accepted.
    HoldEapTls {
        #[command(flatten)]
        target: NasTarget,
        #[command(flatten)]
        peer: EapTlsPeerArgs,
        /// Logins held open at once.
        #[arg(long, default_value_t = 10_000)]
        conversations: usize,
        /// Round trips before the pause (2: adgate's first flight computed, one fragment sent).
        #[arg(long, default_value_t = 2)]
        round_trips: usize,
        /// Seconds to hold them all before finishing.
        #[arg(long, default_value_t = 10)]
        hold_s: u64,
        /// Sockets (each drives its share of the logins one round trip at a time).
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        user: String,
    },
    /// Drive requests at a fixed concurrency and print requests/s and latency percentiles.
    Bench {
        #[command(flatten)]
        target: NasTarget,
        #[arg(long)]
        password_file: PathBuf,
        /// What to send.
        #[arg(long, value_enum, default_value_t = BenchKind::Pap)]
        kind: BenchKind,
        /// Logins in flight at once.
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        /// Logins to send in all.
        #[arg(long, default_value_t = 2000)]
        requests: usize,
        user: String,
    },
}

/// The request a benchmark sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BenchKind {
    /// PAP logins of USER, each decided by AD.
    Pap,
    /// Status-Server probes (RFC 5997), answered without AD.
    StatusServer,
    /// MS-CHAPv2 logins of USER, each checked by a DC through winbind; ok when S= and the
    /// MPPE keys are the ones the password implies.
    MsChapv2,
    /// One PAP login of USER per worker, then its retransmission over and over: every answer
    /// comes from the response cache (RFC 5080 §2.2.2).
    Retransmission,
}

/// The simulated NAS's own EAP-TLS peer.
#[derive(Debug, Args)]
pub struct EapTlsPeerArgs {
    /// CA certificate(s) that issued adgate's server certificate (PEM).
    #[arg(long)]
    pub ca_file: PathBuf,
    /// The user's certificate (PEM).
    #[arg(long)]
    pub certificate_file: PathBuf,
    /// The user's private key (PEM).
    #[arg(long)]
    pub key_file: PathBuf,
    /// The name adgate's server certificate must carry.
    #[arg(long)]
    pub server_name: String,
    /// TLS version to offer: 1.2 or 1.3.
    #[arg(long, default_value = "1.3")]
    pub tls_version: String,
    /// Open with EAP-Start (RFC 3579 §2.1) and let adgate ask for the identity, instead of
    /// sending the EAP-Response/Identity first.
    #[arg(long)]
    pub eap_start: bool,
}

/// Where and how the simulated NAS sends.
#[derive(Debug, Args)]
pub struct NasTarget {
    /// RADIUS server address.
    #[arg(long, default_value = "127.0.0.1:1812")]
    pub server: SocketAddr,
    /// File holding the RADIUS shared secret.
    #[arg(long)]
    pub secret_file: PathBuf,
    /// NAS-Identifier to send.
    #[arg(long, default_value = "adgate-nas")]
    pub nas_identifier: String,
    /// Send requests without Message-Authenticator (to test servers that require it).
    #[arg(long)]
    pub no_message_authenticator: bool,
    /// Seconds to wait for each answer before retransmitting.
    #[arg(long, default_value_t = 3.0)]
    pub timeout_s: f64,
    /// Retransmissions after the first try.
    #[arg(long, default_value_t = 0)]
    pub retries: u32,
}
