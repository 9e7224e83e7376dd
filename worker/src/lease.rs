//! Leases that keep a periodic job to one runner at a time across worker
//! processes: the queue hands each tick to one worker, but a run that
//! outlasts its interval must not overlap the next tick's. A runner holds the
//! job's row until `expires_at`, renews it while it works and gives it back
//! when done; a runner that died loses it when it expires.
//!
//! Leases use the wall clock, not the injected one: they are about processes
//! being alive, not about business time.

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait, QueryFilter,
};
use uuid::Uuid;
use vitrine_entity::entities::job_lease;

/// A held lease. Give it back with [`Lease::release`]; dropped, it expires.
#[derive(Debug)]
pub struct Lease {
    name: &'static str,
    holder: String,
    ttl: Duration,
}

fn wall_now() -> DateTime<Utc> {
    Utc::now()
}

impl Lease {
    /// Takes the lease `name` for `ttl`, unless another runner holds it.
    pub async fn acquire(
        db: &DatabaseConnection,
        name: &'static str,
        ttl: Duration,
    ) -> Result<Option<Lease>, DbErr> {
        let now = wall_now();
        // The row exists once; inserting it when missing never steals it.
        job_lease::Entity::insert(job_lease::ActiveModel {
            name: Set(name.to_owned()),
            holder: Set(String::new()),
            expires_at: Set(now - Duration::seconds(1)),
            done_until: Set(None),
        })
        .on_conflict(
            OnConflict::column(job_lease::Column::Name)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
        let holder = Uuid::now_v7().to_string();
        let taken = job_lease::Entity::update_many()
            .col_expr(job_lease::Column::Holder, holder.clone().into())
            .col_expr(job_lease::Column::ExpiresAt, (now + ttl).into())
            .filter(job_lease::Column::Name.eq(name))
            .filter(job_lease::Column::ExpiresAt.lte(now))
            .exec(db)
            .await?;
        Ok((taken.rows_affected == 1).then_some(Lease { name, holder, ttl }))
    }

    /// Extends the lease; `false` if it was lost (expired and taken over),
    /// in which case the runner must stop.
    pub async fn renew(&self, db: &DatabaseConnection) -> Result<bool, DbErr> {
        let renewed = job_lease::Entity::update_many()
            .col_expr(job_lease::Column::ExpiresAt, (wall_now() + self.ttl).into())
            .filter(self.mine())
            .exec(db)
            .await?;
        Ok(renewed.rows_affected == 1)
    }

    /// Where the last complete run left off (`None`: never ran to the end).
    pub async fn done_until(
        &self,
        db: &DatabaseConnection,
    ) -> Result<Option<DateTime<Utc>>, DbErr> {
        Ok(job_lease::Entity::find_by_id(self.name)
            .one(db)
            .await?
            .and_then(|l| l.done_until))
    }

    /// Records a complete run up to `at`.
    pub async fn set_done_until(
        &self,
        db: &DatabaseConnection,
        at: DateTime<Utc>,
    ) -> Result<(), DbErr> {
        job_lease::Entity::update_many()
            .col_expr(job_lease::Column::DoneUntil, at.into())
            .filter(self.mine())
            .exec(db)
            .await?;
        Ok(())
    }

    /// Gives the lease back at once.
    pub async fn release(self, db: &DatabaseConnection) -> Result<(), DbErr> {
        job_lease::Entity::update_many()
            .col_expr(
                job_lease::Column::ExpiresAt,
                (wall_now() - Duration::seconds(1)).into(),
            )
            .filter(self.mine())
            .exec(db)
            .await?;
        Ok(())
    }

    fn mine(&self) -> Condition {
        Condition::all()
            .add(job_lease::Column::Name.eq(self.name))
            .add(job_lease::Column::Holder.eq(self.holder.as_str()))
    }
}
