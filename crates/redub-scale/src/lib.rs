//! Scale-out on NATS JetStream (DESIGN §6, docs/scale-out.md). The coordinator (`redub dub
//! --nats URL`) hands a stage's units to [`NatsFarm`], a `redub_pipeline::Farm`: each task goes
//! to the work-queue stream [`STREAM`], its files into the Object Store bucket [`BUCKET`] (by
//! content, once). Workers (`redub worker --nats URL`, [`worker::run`]) pull one task at a time
//! from the durable consumer [`CONSUMER`], keep its parts and its result in the bucket, and
//! acknowledge it only after the result is stored; a task whose worker dies is delivered again
//! after the ack wait, and after `max_deliver` deliveries the coordinator fails the job naming
//! the task. Results are stored under the task's key, so a task run twice stores the same
//! result once.

pub mod bus;
pub mod farm;
pub mod wire;
pub mod worker;

pub use bus::Bus;
pub use farm::NatsFarm;

use std::time::Duration;

/// The work-queue stream of tasks (subjects `redub.tasks.<kind>`).
pub const STREAM: &str = "REDUB_TASKS";
/// The durable pull consumer every worker shares.
pub const CONSUMER: &str = "workers";
/// The Object Store bucket of files, parts and results.
pub const BUCKET: &str = "redub";

/// How the stream, the consumer and the bucket are made (when they do not exist yet; an
/// existing consumer keeps the settings it was made with) and how long to wait for NATS.
#[derive(Clone, Debug)]
pub struct Settings {
    /// `nats://host:4222`, or several separated by commas (a cluster).
    pub url: String,
    /// A task not acknowledged (nor reported in progress) for this long is delivered again.
    /// Workers report progress every third of it while they work, so only a dead worker's
    /// task waits it out.
    pub ack_wait: Duration,
    /// Deliveries of one task before the job fails naming it.
    pub max_deliver: i64,
    /// Objects older than this are dropped from the bucket (results of old jobs).
    pub keep: Duration,
    /// How long an operation keeps retrying while NATS is unreachable (a restart) before the
    /// job fails.
    pub patience: Duration,
}

impl Settings {
    pub fn new(url: &str) -> Self {
        Self {
            url: url.to_string(),
            ack_wait: Duration::from_secs(60),
            max_deliver: 3,
            keep: Duration::from_secs(7 * 24 * 3600),
            patience: Duration::from_secs(600),
        }
    }
}
