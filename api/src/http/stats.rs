//! CSV export of usage statistics: `GET /stats/usage.csv` with a bearer
//! token and the parameters of `usageStats` in the query string:
//! `from`, `to` (YYYY-MM-DD), `groupBy` (comma-separated UsageGrouping
//! names), `assetIds`, `folderId`, `partnerOrgId`, `shareLinkId`,
//! `accessorTypes`, `actions`. The same service answers, so the file holds
//! exactly the rows of the query. Long ranges grouped by period are read and
//! sent slice by slice (a month of days, a quarter of weeks, a year of
//! months), so memory stays flat however long the range.

use std::collections::HashMap;

use chrono::{Duration, NaiveDate};
use futures_util::StreamExt;
use poem::http::StatusCode;
use poem::web::{Data, Query};
use poem::{Body, Request, Response, handler};
use uuid::Uuid;
use vitrine_entity::usage::{AccessorType, UsageAction, next_month};

use super::{App, request_auth};
use crate::error::ApiError;
use crate::services::usage::{self, Grouping, UsageFilter, UsageQuery, UsageRow};
use crate::state::AppState;

fn error_response(e: &ApiError) -> Response {
    let status = match e.code() {
        "UNAUTHENTICATED" => StatusCode::UNAUTHORIZED,
        "FORBIDDEN" => StatusCode::FORBIDDEN,
        "NOT_FOUND" => StatusCode::NOT_FOUND,
        "BAD_USER_INPUT" => StatusCode::BAD_REQUEST,
        "TOO_MANY_REQUESTS" => StatusCode::TOO_MANY_REQUESTS,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    if let ApiError::Internal(source) = e {
        ApiError::log_internal(source.as_ref());
    }
    Response::builder()
        .status(status)
        .content_type("application/json")
        .body(serde_json::json!({ "code": e.code(), "message": e.message() }).to_string())
}

fn bad(message: String) -> ApiError {
    ApiError::BadUserInput(message)
}

fn list<'a>(params: &'a HashMap<String, String>, key: &str) -> Option<Vec<&'a str>> {
    params.get(key).map(|v| {
        v.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect()
    })
}

fn uuid_param(params: &HashMap<String, String>, key: &str) -> Result<Option<Uuid>, ApiError> {
    params
        .get(key)
        .map(|v| Uuid::parse_str(v.trim()).map_err(|_| bad(format!("{key} is not a valid id"))))
        .transpose()
}

fn date_param(params: &HashMap<String, String>, key: &str) -> Result<NaiveDate, ApiError> {
    let raw = params
        .get(key)
        .ok_or_else(|| bad(format!("{key} is required (YYYY-MM-DD)")))?;
    raw.trim()
        .parse()
        .map_err(|_| bad(format!("{key} is not a date (YYYY-MM-DD)")))
}

fn grouping(name: &str) -> Option<Grouping> {
    Some(match name {
        "DAY" => Grouping::Day,
        "WEEK" => Grouping::Week,
        "MONTH" => Grouping::Month,
        "ASSET" => Grouping::Asset,
        "ACCESSOR_TYPE" => Grouping::AccessorType,
        "PARTNER_ORG" => Grouping::PartnerOrg,
        "SHARE_LINK" => Grouping::ShareLink,
        _ => return None,
    })
}

/// The query a request asks for.
pub fn parse_query(params: &HashMap<String, String>) -> Result<UsageQuery, ApiError> {
    let from = date_param(params, "from")?;
    let to = date_param(params, "to")?;
    let group_by = list(params, "groupBy")
        .unwrap_or_default()
        .into_iter()
        .map(|g| grouping(g).ok_or_else(|| bad(format!("groupBy: unknown grouping {g:?}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let asset_ids = list(params, "assetIds")
        .map(|ids| {
            ids.into_iter()
                .map(|id| Uuid::parse_str(id).map_err(|_| bad("assetIds: not a valid id".into())))
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    let accessor_types = list(params, "accessorTypes")
        .map(|v| {
            v.into_iter()
                .map(|a| {
                    AccessorType::parse(a)
                        .ok_or_else(|| bad(format!("accessorTypes: unknown type {a:?}")))
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    let actions = list(params, "actions")
        .map(|v| {
            v.into_iter()
                .map(|a| {
                    UsageAction::parse(a)
                        .ok_or_else(|| bad(format!("actions: unknown action {a:?}")))
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    UsageQuery::new(
        UsageFilter {
            asset_ids,
            folder_id: uuid_param(params, "folderId")?,
            partner_org_id: uuid_param(params, "partnerOrgId")?,
            share_link_id: uuid_param(params, "shareLinkId")?,
            accessor_types,
            actions,
        },
        from,
        to,
        group_by,
    )
}

/// The slices a long query is read in, each aligned to its period.
fn slices(query: &UsageQuery) -> Vec<(NaiveDate, NaiveDate)> {
    let step = |start: NaiveDate| -> NaiveDate {
        if query.group_by.contains(&Grouping::Day) {
            next_month(start)
        } else if query.group_by.contains(&Grouping::Week) {
            vitrine_entity::usage::week_start(start) + Duration::weeks(13)
        } else if query.group_by.contains(&Grouping::Month) {
            let mut d = start;
            for _ in 0..12 {
                d = next_month(d);
            }
            d
        } else {
            query.to + Duration::days(1)
        }
    };
    let mut out = Vec::new();
    let mut start = query.from;
    while start <= query.to {
        let next = step(start).max(start + Duration::days(1));
        let end = std::cmp::min(next - Duration::days(1), query.to);
        out.push((start, end));
        start = next;
    }
    out
}

fn header(query: &UsageQuery) -> String {
    let mut cols: Vec<&str> = Vec::new();
    if query.group_by.contains(&Grouping::Day) {
        cols.push("day");
    }
    if query.group_by.contains(&Grouping::Week) {
        cols.push("week");
    }
    if query.group_by.contains(&Grouping::Month) {
        cols.push("month");
    }
    for (g, name) in [
        (Grouping::Asset, "asset_id"),
        (Grouping::AccessorType, "accessor_type"),
        (Grouping::PartnerOrg, "partner_org_id"),
        (Grouping::ShareLink, "share_link_id"),
    ] {
        if query.group_by.contains(&g) {
            cols.push(name);
        }
    }
    cols.extend([
        "views",
        "downloads",
        "shares",
        "share_opens",
        "last_access_at",
    ]);
    let mut line = cols.join(",");
    line.push_str("\r\n");
    line
}

/// One CSV line (every value is a date, an id, an enum name or a number:
/// nothing needs quoting).
fn line(query: &UsageQuery, row: &UsageRow) -> String {
    let mut cells: Vec<String> = Vec::new();
    let opt = |v: Option<String>| v.unwrap_or_default();
    if query
        .group_by
        .iter()
        .any(|g| matches!(g, Grouping::Day | Grouping::Week | Grouping::Month))
    {
        cells.push(opt(row.period.map(|d| d.to_string())));
    }
    if query.group_by.contains(&Grouping::Asset) {
        cells.push(opt(row.asset_id.map(|u| u.to_string())));
    }
    if query.group_by.contains(&Grouping::AccessorType) {
        cells.push(opt(row.accessor.map(|a| a.as_str().to_owned())));
    }
    if query.group_by.contains(&Grouping::PartnerOrg) {
        cells.push(opt(row.partner_org_id.map(|u| u.to_string())));
    }
    if query.group_by.contains(&Grouping::ShareLink) {
        cells.push(opt(row.share_link_id.map(|u| u.to_string())));
    }
    for n in row.counts {
        cells.push(n.to_string());
    }
    cells.push(opt(row
        .last_at
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))));
    let mut line = cells.join(",");
    line.push_str("\r\n");
    line
}

async fn slice_csv(
    state: &AppState,
    actor: &vitrine_entity::policy::Actor,
    query: &UsageQuery,
    (from, to): (NaiveDate, NaiveDate),
) -> Result<String, ApiError> {
    let mut part = query.clone();
    part.from = from;
    part.to = to;
    let rows = usage::stats(state, actor, &part, None).await?;
    Ok(rows.iter().map(|r| line(query, r)).collect())
}

#[handler]
pub async fn usage_csv(
    req: &Request,
    Query(params): Query<HashMap<String, String>>,
    Data(app): Data<&App>,
) -> Response {
    let state = app.state.clone();
    let auth = match request_auth(&state, req).await {
        Ok(a) => a,
        Err(e) => return error_response(&e),
    };
    if auth.session_id.is_none() {
        return error_response(&ApiError::Unauthenticated(
            auth.rejected.unwrap_or("authentication required").into(),
        ));
    }
    let query = match parse_query(&params) {
        Ok(q) => q,
        Err(e) => return error_response(&e),
    };
    let mut parts = slices(&query).into_iter();
    // The first slice is read before answering, so a refusal is a status.
    let first = match parts.next() {
        Some(range) => match slice_csv(&state, &auth.actor, &query, range).await {
            Ok(csv) => csv,
            Err(e) => return error_response(&e),
        },
        None => String::new(),
    };
    let actor = auth.actor.clone();
    let head = header(&query);
    let rest = futures_util::stream::iter(parts).then(move |range| {
        let state = state.clone();
        let actor = actor.clone();
        let query = query.clone();
        async move {
            slice_csv(&state, &actor, &query, range).await.map_err(|e| {
                tracing::error!(error = %e.message(), "usage CSV export failed midway");
                std::io::Error::other("usage statistics could not be read")
            })
        }
    });
    let body = futures_util::stream::iter([Ok(head), Ok(first)])
        .chain(rest)
        .map(|r| r.map(bytes::Bytes::from));
    Response::builder()
        .content_type("text/csv; charset=utf-8")
        .header("content-disposition", "attachment; filename=\"usage.csv\"")
        .header("cache-control", "no-store")
        .body(Body::from_bytes_stream(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn long_ranges_are_read_in_period_aligned_slices() {
        let q = parse_query(&params(&[
            ("from", "2026-01-15"),
            ("to", "2026-03-10"),
            ("groupBy", "DAY,ASSET"),
        ]))
        .unwrap();
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        assert_eq!(
            slices(&q),
            vec![
                (d("2026-01-15"), d("2026-01-31")),
                (d("2026-02-01"), d("2026-02-28")),
                (d("2026-03-01"), d("2026-03-10")),
            ]
        );
        let whole = parse_query(&params(&[("from", "2026-01-15"), ("to", "2026-03-10")])).unwrap();
        assert_eq!(slices(&whole), vec![(d("2026-01-15"), d("2026-03-10"))]);
        let weeks = parse_query(&params(&[
            ("from", "2026-01-01"),
            ("to", "2026-12-31"),
            ("groupBy", "WEEK"),
        ]))
        .unwrap();
        // Slices never split a week.
        for (a, _) in slices(&weeks).iter().skip(1) {
            assert_eq!(vitrine_entity::usage::week_start(*a), *a);
        }
        assert_eq!(slices(&weeks).last().unwrap().1, d("2026-12-31"));
    }

    #[test]
    fn bad_parameters_are_refused_with_the_parameter_named() {
        for (p, needle) in [
            (params(&[("to", "2026-01-01")]), "from"),
            (
                params(&[("from", "2026-01-02"), ("to", "2026-01-01")]),
                "before",
            ),
            (params(&[("from", "2026-01-01"), ("to", "x")]), "to"),
            (
                params(&[
                    ("from", "2026-01-01"),
                    ("to", "2026-01-02"),
                    ("groupBy", "HOUR"),
                ]),
                "groupBy",
            ),
            (
                params(&[
                    ("from", "2026-01-01"),
                    ("to", "2026-01-02"),
                    ("groupBy", "DAY,MONTH"),
                ]),
                "at most one",
            ),
            (
                params(&[
                    ("from", "2026-01-01"),
                    ("to", "2026-01-02"),
                    ("assetIds", "nope"),
                ]),
                "assetIds",
            ),
        ] {
            let e = parse_query(&p).unwrap_err();
            assert_eq!(e.code(), "BAD_USER_INPUT");
            assert!(
                e.message().contains(needle),
                "{} lacks {needle}",
                e.message()
            );
        }
    }
}
