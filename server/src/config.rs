//! Turning command-line options into a connected, migrated [`Services`].

use std::path::Path;

use domain::crypto::MasterKey;
use domain::settings::Settings;
use domain::ssrf::TargetPolicy;
use domain::store::Db;
use domain::Services;

use crate::cli::DbArgs;

pub fn database_url(args: &DbArgs) -> String {
    args.database_url.clone().unwrap_or_else(|| format!("sqlite://{}", args.data_dir.join("purple-cross.db").display()))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MasterKeyUse {
    /// `serve`: secrets will be sealed and opened.
    Needed,
    /// Admin commands that never touch sealed secrets.
    NotNeeded,
}

pub async fn open(args: &DbArgs, use_: MasterKeyUse) -> Result<Services, String> {
    open_with(args, use_, Settings::default(), TargetPolicy::default()).await
}

pub async fn open_with(
    args: &DbArgs,
    use_: MasterKeyUse,
    settings: Settings,
    targets: TargetPolicy,
) -> Result<Services, String> {
    let url = database_url(args);
    let db = Db::connect(&url).await.map_err(|e| format!("cannot open database {}: {e}", redact(&url)))?;
    db.migrate().await.map_err(|e| format!("migrations failed: {e}"))?;
    let key = master_key(args, &db, use_)?;
    let services = Services::with_settings(db, key, settings, targets);
    services.seed_event_types().await.map_err(|e| format!("seeding the event catalog failed: {e}"))?;
    if use_ == MasterKeyUse::Needed {
        // Only with the real key: admin commands may run with a throwaway one.
        services.seal_plain_headers().await.map_err(|e| format!("sealing stored webhook headers failed: {e}"))?;
    }
    services.seed_email_templates().await.map_err(|e| format!("seeding the email templates failed: {e}"))?;
    Ok(services)
}

fn master_key(args: &DbArgs, db: &Db, use_: MasterKeyUse) -> Result<MasterKey, String> {
    if let Some(k) = &args.master_key {
        return MasterKey::from_base64(k).map_err(|e| format!("PURPLE_CROSS_MASTER_KEY: {e}"));
    }
    match (db.backend(), use_) {
        (domain::store::Backend::Sqlite, _) => load_or_create_key_file(&args.data_dir.join("master.key")),
        (domain::store::Backend::Postgres, MasterKeyUse::Needed) => Err(
            "PostgreSQL needs --master-key / PURPLE_CROSS_MASTER_KEY (base64 of 32 bytes, the same on every instance)"
                .to_string(),
        ),
        // These commands seal nothing, so a throw-away key is enough.
        (domain::store::Backend::Postgres, MasterKeyUse::NotNeeded) => {
            MasterKey::from_base64(&MasterKey::generate_encoded()).map_err(|e| e.to_string())
        }
    }
}

/// The embedded setup keeps its key beside the database, readable only by its owner.
fn load_or_create_key_file(path: &Path) -> Result<MasterKey, String> {
    if let Ok(existing) = std::fs::read_to_string(path) {
        return MasterKey::from_base64(&existing).map_err(|e| format!("{}: {e}", path.display()));
    }
    if let Some(dir) = path.parent() {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let encoded = MasterKey::generate_encoded();
    write_private(path, &encoded).map_err(|e| format!("{}: {e}", path.display()))?;
    tracing::info!(path = %path.display(), "generated a new master key");
    MasterKey::from_base64(&encoded).map_err(|e| e.to_string())
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(contents.as_bytes())?;
    f.sync_all()
}

/// A database URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn redacts_passwords() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("sqlite://data/x.db"), "sqlite://data/x.db");
    }
}
