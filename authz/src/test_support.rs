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

/// A DNS server on a loopback UDP port that answers every question with the SRV records it
/// holds now (none: NXDOMAIN), for tests of DC discovery that must not ask a real resolver.
pub(crate) struct FakeDns {
    pub(crate) address: std::net::SocketAddr,
    records: std::sync::Arc<std::sync::Mutex<Vec<FakeSrv>>>,
}

/// One SRV record: priority, weight, port, target host, TTL.
pub(crate) type FakeSrv = (u16, u16, u16, &'static str, u32);

impl FakeDns {
    pub(crate) async fn start(records: Vec<FakeSrv>) -> FakeDns {
        use hickory_resolver::proto::op::{Message, OpCode, ResponseCode};
        use hickory_resolver::proto::rr::rdata::SRV;
        use hickory_resolver::proto::rr::{Name, RData, Record};

        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let address = socket.local_addr().unwrap();
        let records = std::sync::Arc::new(std::sync::Mutex::new(records));
        let held = records.clone();
        tokio::spawn(async move {
            let mut buffer = vec![0; 4096];
            while let Ok((length, peer)) = socket.recv_from(&mut buffer).await {
                let Ok(question) = Message::from_vec(&buffer[..length]) else {
                    continue;
                };
                let mut answer = Message::response(question.metadata.id, OpCode::Query);
                answer.metadata.authoritative = true;
                answer.metadata.recursion_desired = question.metadata.recursion_desired;
                answer.metadata.recursion_available = true;
                let records = held.lock().unwrap().clone();
                for query in &question.queries {
                    answer.add_query(query.clone());
                    for &(priority, weight, port, target, ttl) in &records {
                        let target = Name::from_ascii(format!("{target}.")).unwrap();
                        answer.add_answer(Record::from_rdata(
                            query.name().clone(),
                            ttl,
                            RData::SRV(SRV::new(priority, weight, port, target)),
                        ));
                    }
                }
                if records.is_empty() {
                    answer.metadata.response_code = ResponseCode::NXDomain;
                }
                let _ = socket.send_to(&answer.to_vec().unwrap(), peer).await;
            }
        });
        FakeDns { address, records }
    }

    /// From now on, answer with `records`.
    pub(crate) fn answer(&self, records: Vec<FakeSrv>) {
        *self.records.lock().unwrap() = records;
    }
}
