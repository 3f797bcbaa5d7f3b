//! Remote mode: the CLI talks to a running server's API with a personal API token instead of
//! opening the database itself. Plain HTTP (put TLS in front of the server for remote networks).

use anyhow::{Context, bail};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header;
use hyper_util::rt::TokioIo;

pub struct Remote {
    host: String,
    token: String,
}

impl Remote {
    /// `server` like `http://127.0.0.1:8080`.
    pub fn new(server: &str, token: &str) -> anyhow::Result<Remote> {
        let host = server
            .strip_prefix("http://")
            .context(
                "the server URL must start with http:// (terminate TLS in a proxy in front of it)",
            )?
            .trim_end_matches('/')
            .to_string();
        if host.is_empty() || host.contains('/') {
            bail!("the server URL must be http://HOST:PORT");
        }
        Ok(Remote {
            host,
            token: token.to_string(),
        })
    }

    /// POSTs a body; the answer's status and JSON body (`null` if it is not JSON).
    pub async fn post(
        &self,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> anyhow::Result<(u16, serde_json::Value)> {
        let (status, bytes) = self.send("POST", path, Some(content_type), body).await?;
        Ok((
            status,
            serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
        ))
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<(u16, Bytes)> {
        self.send("GET", path, None, vec![]).await
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> anyhow::Result<(u16, Bytes)> {
        let addr = if self.host.contains(':') {
            self.host.clone()
        } else {
            format!("{}:80", self.host)
        };
        let stream = tokio::net::TcpStream::connect(&addr)
            .await
            .with_context(|| format!("connecting to {addr}"))?;
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(conn);
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, &self.host)
            .header(header::AUTHORIZATION, format!("Bearer {}", self.token));
        if let Some(ct) = content_type {
            req = req.header(header::CONTENT_TYPE, ct);
        }
        let resp = sender
            .send_request(req.body(Full::new(Bytes::from(body)))?)
            .await?;
        let status = resp.status().as_u16();
        Ok((status, resp.into_body().collect().await?.to_bytes()))
    }
}
