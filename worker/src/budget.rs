//! A process-wide budget for the memory that image work holds: decoding an
//! upload to check it, decoding a version to make its renditions, stamping an
//! original. Each piece of work reserves what it will hold (estimated from
//! the image header before a byte is decoded) and waits until that much is
//! free, so however many uploads, jobs and downloads run at once, together
//! they never hold more than the budget. One image that would need more than
//! the whole budget is refused at once rather than queued forever.
//!
//! A semaphore over 64 KiB units (tokio's, so waiting is fair: first come,
//! first served) rather than an allocator hook: the estimates are upper
//! bounds of the large buffers, which are what counts at these sizes.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The granularity of the budget.
const UNIT: u64 = 64 * 1024;

/// Why a reservation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BudgetError {
    #[error("{needed} bytes needed, more than the {total} bytes image work may hold at once")]
    TooLarge { needed: u64, total: u64 },
}

/// The budget. Cheap to clone (shared).
#[derive(Debug, Clone)]
pub struct MemoryBudget {
    semaphore: Arc<Semaphore>,
    total: u64,
    in_use: Arc<AtomicU64>,
}

/// Memory reserved from the budget; given back when dropped.
#[derive(Debug)]
pub struct Reservation {
    _permit: Option<OwnedSemaphorePermit>,
    bytes: u64,
    in_use: Arc<AtomicU64>,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.in_use.fetch_sub(self.bytes, Ordering::Relaxed);
    }
}

impl MemoryBudget {
    pub fn new(total_bytes: u64) -> Self {
        let units = usize::try_from(total_bytes / UNIT)
            .unwrap_or(usize::MAX)
            .clamp(1, Semaphore::MAX_PERMITS);
        Self {
            semaphore: Arc::new(Semaphore::new(units)),
            total: total_bytes,
            in_use: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The whole budget, in bytes.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// What is reserved now, in bytes.
    pub fn in_use(&self) -> u64 {
        self.in_use.load(Ordering::Relaxed)
    }

    /// Whether `bytes` could ever be reserved.
    pub fn check(&self, bytes: u64) -> Result<(), BudgetError> {
        if bytes > self.total {
            Err(BudgetError::TooLarge {
                needed: bytes,
                total: self.total,
            })
        } else {
            Ok(())
        }
    }

    /// Reserves `bytes` if they are free now.
    pub fn try_reserve(&self, bytes: u64) -> Option<Reservation> {
        self.check(bytes).ok()?;
        let units = u32::try_from(bytes.div_ceil(UNIT)).unwrap_or(u32::MAX);
        let permit = if units == 0 {
            None
        } else {
            Some(self.semaphore.clone().try_acquire_many_owned(units).ok()?)
        };
        self.in_use.fetch_add(bytes, Ordering::Relaxed);
        Some(Reservation {
            _permit: permit,
            bytes,
            in_use: self.in_use.clone(),
        })
    }

    /// Reserves `bytes`, waiting until they are free.
    pub async fn reserve(&self, bytes: u64) -> Result<Reservation, BudgetError> {
        self.check(bytes)?;
        let units = u32::try_from(bytes.div_ceil(UNIT)).unwrap_or(u32::MAX);
        let permit = if units == 0 {
            None
        } else {
            Some(
                self.semaphore
                    .clone()
                    .acquire_many_owned(units)
                    .await
                    .map_err(|_| BudgetError::TooLarge {
                        needed: bytes,
                        total: self.total,
                    })?,
            )
        };
        self.in_use.fetch_add(bytes, Ordering::Relaxed);
        Ok(Reservation {
            _permit: permit,
            bytes,
            in_use: self.in_use.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn reservations_wait_for_memory_and_give_it_back() {
        let budget = MemoryBudget::new(10 << 20);
        let a = budget.reserve(6 << 20).await.unwrap();
        assert_eq!(budget.in_use(), 6 << 20);
        // 6 + 6 > 10: the second waits until the first is dropped.
        let waiting = tokio::time::timeout(Duration::from_millis(50), budget.reserve(6 << 20));
        assert!(waiting.await.is_err());
        drop(a);
        let b = tokio::time::timeout(Duration::from_secs(1), budget.reserve(6 << 20))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(budget.in_use(), 6 << 20);
        drop(b);
        assert_eq!(budget.in_use(), 0);
    }

    #[tokio::test]
    async fn more_than_the_whole_budget_is_refused_at_once() {
        let budget = MemoryBudget::new(10 << 20);
        assert_eq!(
            budget.reserve(11 << 20).await.unwrap_err(),
            BudgetError::TooLarge {
                needed: 11 << 20,
                total: 10 << 20
            }
        );
    }
}
