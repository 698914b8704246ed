//! The request handler as the RADIUS servers see it: each request goes to the gatekeeper that is
//! current when it arrives and keeps that gatekeeper (its `Arc`) until it is answered. A
//! configuration reload installs a new gatekeeper for the requests that arrive afterwards;
//! requests in flight finish with the configuration they started with. It also counts the
//! requests in flight, for the metrics and for shutdown, which says what it had to abandon.

use std::sync::Arc;

use adgate_radius::{
    AccessRequest, AccountingReply, AccountingRequest, Discard, Reply, RequestHandler,
};
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::metrics::Readiness;
use crate::swappable::Swappable;

/// The handler in use now, swappable while serving.
pub struct CurrentHandler<H> {
    current: Swappable<H>,
    in_flight: Gauge,
}

/// One request being handled; counted until dropped (answered, or abandoned).
struct InFlight<'a>(&'a Gauge);

impl<'a> InFlight<'a> {
    fn count(gauge: &'a Gauge) -> Self {
        gauge.inc();
        InFlight(gauge)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

impl<H> CurrentHandler<H> {
    pub fn new(handler: H) -> Self {
        CurrentHandler {
            current: Swappable::new(handler),
            in_flight: Gauge::default(),
        }
    }

    /// The handler requests arriving now go to.
    pub fn get(&self) -> Arc<H> {
        self.current.get()
    }

    /// Sends requests arriving from now on to `handler`.
    pub fn replace(&self, handler: H) {
        self.current.replace(handler);
    }

    /// Access- and Accounting-Requests being decided or recorded now.
    pub fn in_flight(&self) -> i64 {
        self.in_flight.get()
    }

    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "requests_in_flight",
            "Access- and Accounting-Requests being decided or recorded now",
            self.in_flight.clone(),
        );
    }
}

impl<H: RequestHandler> RequestHandler for CurrentHandler<H> {
    async fn access_request(&self, request: AccessRequest) -> Reply {
        let _counted = InFlight::count(&self.in_flight);
        self.get().access_request(request).await
    }

    async fn accounting_request(&self, request: AccountingRequest) -> AccountingReply {
        let _counted = InFlight::count(&self.in_flight);
        self.get().accounting_request(request).await
    }

    async fn discarded(&self, discard: Discard) {
        self.get().discarded(discard).await
    }
}

impl<H: Readiness> Readiness for CurrentHandler<H> {
    async fn check(&self) -> Result<String, String> {
        self.get().check().await
    }
}
