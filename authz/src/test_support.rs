//! Loopback endpoints that misbehave on purpose, for testing how the directory code fails.

use std::time::Duration;

use tokio::net::TcpListener;

/// A loopback port on which nothing listens (connections are refused).
pub(crate) async fn refused_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

/// A loopback port that accepts connections and never says a word.
pub(crate) async fn silent_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
        tokio::time::sleep(Duration::from_secs(3600)).await;
    });
    port
}
