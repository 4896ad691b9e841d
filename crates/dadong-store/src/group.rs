//! Group commit: one writer task per store and kind of write gathers the writes that wait at
//! the same moment and hands them to a handler that carries them out in one transaction, so
//! that a burst of writes costs one disk flush per group instead of one per write. Each caller
//! gets its own answer once the group's transaction is durable.
//!
//! Services' acts ([`crate::Store::act_grouped`]) and appeals' lives (raise and every step)
//! are written this way; what the handler does with a group is theirs. A read that every
//! request makes is grouped the same way, for one query instead of one per request: the
//! session lookup ([`crate::Store::session`]).

use crate::{Backend, Result, Store, StoreError};
use std::future::Future;
use std::sync::{Arc, OnceLock};
use tokio::sync::{mpsc, oneshot};

/// Most writes one group carries.
pub const GROUP_COMMIT_MAX: usize = 256;

type Queued<J, A> = (J, oneshot::Sender<A>);
type Lanes<J, A> = Vec<mpsc::UnboundedSender<Queued<J, A>>>;

/// The queues of one kind of write, started on first use; cheap to clone with the store.
///
/// SQLite has one writer at a time, so one lane. PostgreSQL takes writers side by side, and a
/// group's time there is mostly round trips, so it has [`POSTGRES_LANES`] lanes, each its own
/// writer task and transaction; a job goes to the lane of its key (an appeal's id, say), so
/// that two lanes never hold the same row and the writes to one row keep their order.
pub(crate) struct Writer<J, A> {
    lanes: Arc<OnceLock<Lanes<J, A>>>,
    /// Whether PostgreSQL gets several lanes (the handler's groups must then never write a
    /// row that another key's group writes).
    spread: bool,
}

/// Writer lanes on PostgreSQL.
pub const POSTGRES_LANES: usize = 4;

impl<J, A> Writer<J, A> {
    /// One lane on every backend.
    pub(crate) fn one_lane() -> Self {
        Writer {
            lanes: Arc::default(),
            spread: false,
        }
    }

    /// Lanes as the backend takes them.
    pub(crate) fn lanes_by_backend() -> Self {
        Writer {
            lanes: Arc::default(),
            spread: true,
        }
    }
}

impl<J, A> Clone for Writer<J, A> {
    fn clone(&self) -> Self {
        Writer {
            lanes: self.lanes.clone(),
            spread: self.spread,
        }
    }
}

impl<J: Send + 'static, A: Send + 'static> Writer<J, A> {
    /// Queues `job` on the lane of `key` and waits for its answer. On first use this starts
    /// the lanes' writer tasks, which call `handle` with each group (in arrival order) and
    /// must answer every job, in order. The tasks hold a store without writers of their own,
    /// so that they end when the last handle on the store that started them is dropped.
    pub(crate) async fn submit<F, Fut>(&self, store: &Store, what: &'static str, key: u64, job: J, handle: F) -> Result<A>
    where
        F: Fn(Store, Vec<J>) -> Fut + Clone + Send + 'static,
        Fut: Future<Output = Vec<A>> + Send,
    {
        let lanes = self.lanes.get_or_init(|| {
            let n = match store.backend() {
                Backend::Postgres if self.spread => POSTGRES_LANES,
                _ => 1,
            };
            (0..n).map(|_| lane(store.without_writer(), handle.clone())).collect()
        });
        let sender = &lanes[(key % lanes.len() as u64) as usize];
        let stopped = || StoreError::Config(format!("the {what} group task has stopped"));
        let (answer, wait) = oneshot::channel();
        sender.send((job, answer)).map_err(|_| stopped())?;
        wait.await.map_err(|_| stopped())
    }
}

/// One lane's writer task: each group waiting at once goes to `handle` in one call.
fn lane<J, A, F, Fut>(store: Store, handle: F) -> mpsc::UnboundedSender<Queued<J, A>>
where
    J: Send + 'static,
    A: Send + 'static,
    F: Fn(Store, Vec<J>) -> Fut + Send + 'static,
    Fut: Future<Output = Vec<A>> + Send,
{
    let (tx, mut rx) = mpsc::unbounded_channel::<Queued<J, A>>();
    tokio::spawn(async move {
        while let Some(first) = rx.recv().await {
            let mut batch = vec![first];
            while batch.len() < GROUP_COMMIT_MAX {
                match rx.try_recv() {
                    Ok(q) => batch.push(q),
                    Err(_) => break,
                }
            }
            let (jobs, answers): (Vec<J>, Vec<_>) = batch.into_iter().unzip();
            let results = handle(store.clone(), jobs).await;
            for (answer, result) in answers.into_iter().zip(results) {
                let _ = answer.send(result);
            }
        }
    });
    tx
}
