//! Photos and videos of cases: checked by their first bytes (not by what the client claims),
//! limited in size, written once per content hash under the data directory and fsynced before
//! they are registered, so an acknowledged upload survives a power cut.

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use sha2::{Digest, Sha256};
use std::io::Write;
use wangge_domain::audit::Actor;
use wangge_store::{Media, NewMedia};

/// The media type of a file by its signature, if it is one we keep.
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    match bytes {
        [0xFF, 0xD8, 0xFF, ..] => Some("image/jpeg"),
        [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, ..] => Some("image/png"),
        [
            b'R',
            b'I',
            b'F',
            b'F',
            _,
            _,
            _,
            _,
            b'W',
            b'E',
            b'B',
            b'P',
            ..,
        ] => Some("image/webp"),
        [
            _,
            _,
            _,
            _,
            b'f',
            b't',
            b'y',
            b'p',
            b'q',
            b't',
            b' ',
            b' ',
            ..,
        ] => Some("video/quicktime"),
        [_, _, _, _, b'f', b't', b'y', b'p', ..] => Some("video/mp4"),
        _ => None,
    }
}

fn extension(content_type: &str) -> &'static str {
    match content_type {
        "image/jpeg" => "jpg",
        "image/png" => "png",
        "image/webp" => "webp",
        "video/quicktime" => "mov",
        _ => "mp4",
    }
}

/// Stores an upload and registers it; the same bytes twice give the same record.
pub async fn store_upload(st: &AppState, actor: &Actor, bytes: Vec<u8>) -> ApiResult<Media> {
    let limit = st.config.cases.media_max_mb * 1024 * 1024;
    if bytes.len() as u64 > limit {
        return Err(ApiError::new("media_too_large").msg(format!(
            "the file has {} bytes; at most {} MB",
            bytes.len(),
            st.config.cases.media_max_mb
        )));
    }
    let content_type = sniff(&bytes)
        .filter(|t| st.config.cases.media_types.iter().any(|a| a == t))
        .ok_or_else(|| {
            ApiError::new("unsupported_media_type").msg(format!(
                "photos and videos only: {}",
                st.config.cases.media_types.join(", ")
            ))
        })?;
    let sha = hex::encode(Sha256::digest(&bytes));
    let rel = format!(
        "{}/{}/{sha}.{}",
        &sha[..2],
        &sha[2..4],
        extension(content_type)
    );
    let dir = st.config.media_dir.clone();
    let size = bytes.len() as i64;
    let rel_for_write = rel.clone();
    tokio::task::spawn_blocking(move || write_durably(&dir, &rel_for_write, &bytes))
        .await
        .map_err(|e| ApiError::new("internal_error").msg(e.to_string()))?
        .map_err(|e| {
            tracing::error!("writing media: {e}");
            ApiError::new("internal_error")
        })?;
    Ok(st
        .store
        .media_put(
            actor,
            &NewMedia {
                sha256: sha,
                content_type: content_type.into(),
                size,
                path: rel,
            },
        )
        .await?)
}

/// Writes to a temporary file, syncs it and renames it into place (then syncs the directory).
fn write_durably(dir: &std::path::Path, rel: &str, bytes: &[u8]) -> std::io::Result<()> {
    let path = dir.join(rel);
    if path.exists() {
        return Ok(());
    }
    let parent = path.parent().unwrap_or(dir);
    std::fs::create_dir_all(parent)?;
    let tmp = parent.join(format!(".{}.tmp", std::process::id()));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, &path)?;
    std::fs::File::open(parent)?.sync_all()?;
    Ok(())
}

/// The bytes of a stored file.
pub async fn read(st: &AppState, m: &Media) -> ApiResult<Vec<u8>> {
    let path = st.config.media_dir.join(&m.path);
    tokio::fs::read(&path).await.map_err(|e| {
        tracing::error!("reading media {}: {e}", path.display());
        ApiError::new("not_found")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_come_from_the_bytes() {
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0]), Some("image/jpeg"));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(sniff(b"\0\0\0\x18ftypmp42...."), Some("video/mp4"));
        assert_eq!(sniff(b"\0\0\0\x14ftypqt  ...."), Some("video/quicktime"));
        assert_eq!(sniff(b"<svg onload=alert(1)>"), None);
        assert_eq!(sniff(b""), None);
    }
}
