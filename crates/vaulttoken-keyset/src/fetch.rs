//! One GET of the key set: conditional (`If-None-Match`), bounded in size
//! (read incrementally, abandoned past the limit). The caller bounds it in
//! time; the client follows no redirect.

use reqwest::header::{ACCEPT, ETAG, HeaderValue, IF_NONE_MATCH};
use reqwest::{Client, StatusCode, Url};
use vaulttoken::keyring::MAX_KEY_SET_LEN;

use crate::error::FetchError;

/// The longest `ETag` kept for the next conditional request.
const MAX_ETAG_LEN: usize = 256;

/// What the server answered.
#[derive(Debug)]
pub(crate) enum Fetched {
    /// 304: the document has not changed since the one tagged `etag`.
    NotModified,
    /// 200: a document, with its `ETag` if it had a usable one.
    Document {
        body: String,
        etag: Option<HeaderValue>,
    },
}

/// Fetches `url`, conditionally on `etag` when there is one.
pub(crate) async fn get(
    client: &Client,
    url: &Url,
    etag: Option<&HeaderValue>,
) -> Result<Fetched, FetchError> {
    let mut request = client.get(url.clone()).header(ACCEPT, "application/json");
    if let Some(etag) = etag {
        request = request.header(IF_NONE_MATCH, etag);
    }
    let mut response = request.send().await.map_err(FetchError::Unreachable)?;
    match response.status() {
        StatusCode::OK => {}
        StatusCode::NOT_MODIFIED if etag.is_some() => return Ok(Fetched::NotModified),
        other => return Err(FetchError::Status(other.as_u16())),
    }
    let too_large = FetchError::TooLarge {
        max: MAX_KEY_SET_LEN,
    };
    if response
        .content_length()
        .is_some_and(|len| len > MAX_KEY_SET_LEN as u64)
    {
        return Err(too_large);
    }
    let etag = response
        .headers()
        .get(ETAG)
        .filter(|etag| etag.len() <= MAX_ETAG_LEN)
        .cloned();
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(FetchError::Unreachable)? {
        if body.len() + chunk.len() > MAX_KEY_SET_LEN {
            return Err(too_large);
        }
        body.extend_from_slice(&chunk);
    }
    // Not UTF-8 is not a key set: the parser names it.
    let body = String::from_utf8(body).unwrap_or_default();
    Ok(Fetched::Document { body, etag })
}
