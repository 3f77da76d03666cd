//! The staff inbox query, built once for both SQL dialects.
//!
//! Only the filters that are set appear in the `WHERE` clause, so each combination can use
//! its own index (see the `applications_*` indexes in the migrations), and paging is by
//! keyset — `(deadline, received_at, id) > cursor` — so page 1,000 of 100,000 applications
//! costs what page 1 does. The two backends differ only in how a placeholder is written and
//! how a [`Param`] is bound.

use crate::store::model::{InboxCursor, InboxFilter, TownshipId};
use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

/// A value to bind.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Param {
    Int(i64),
    Text(String),
    Uuid(Uuid),
    Date(NaiveDate),
    Time(DateTime<Utc>),
}

/// Columns: id, village_id, village name zh, en, resident_id, resident name, device_id,
/// bundle, items (JSON array), status, revision, received_at, deadline.
pub(crate) fn inbox_query(
    township: TownshipId,
    filter: &InboxFilter,
    after: Option<&InboxCursor>,
    limit: u32,
    placeholder: fn(usize) -> String,
) -> (String, Vec<Param>) {
    let mut params = vec![Param::Int(township.0)];
    let mut conds = vec![format!("a.township_id = {}", placeholder(1))];
    // `sql` has one `?` per value; each becomes the dialect's numbered placeholder.
    let mut push = |sql: &str, values: Vec<Param>| {
        let mut parts = sql.split('?');
        let mut s = parts.next().unwrap_or_default().to_string();
        for (v, rest) in values.into_iter().zip(parts) {
            params.push(v);
            s.push_str(&placeholder(params.len()));
            s.push_str(rest);
        }
        conds.push(s);
    };
    if let Some(s) = filter.status {
        push("a.status = ?", vec![Param::Text(s.as_str().into())]);
    }
    if let Some(v) = filter.village {
        push("a.village_id = ?", vec![Param::Int(v.0)]);
    }
    if let Some(item) = &filter.item {
        push("EXISTS (SELECT 1 FROM application_items i WHERE i.application_id = a.id AND i.item = ?)", vec![Param::Text(item.clone())]);
    }
    if let Some(d) = filter.device {
        push("a.device_id = ?", vec![Param::Uuid(d.0)]);
    }
    if filter.open {
        // literal, not bound: the partial index `applications_open` has this very predicate
        let statuses: Vec<String> = InboxFilter::OPEN.iter().map(|s| format!("'{}'", s.as_str())).collect();
        push(&format!("a.status IN ({})", statuses.join(", ")), vec![]);
    }
    if let Some(day) = filter.overdue_on {
        push("a.deadline < ? AND a.status IN ('received', 'accepted')", vec![Param::Date(day)]);
    }
    if let Some(c) = after {
        push(
            "(a.deadline, a.received_at, a.id) > (?, ?, ?)",
            vec![Param::Date(c.deadline), Param::Time(c.received_at), Param::Uuid(c.id.0)],
        );
    }
    params.push(Param::Int(i64::from(limit)));
    let sql = format!(
        "SELECT a.id, a.village_id, v.name_zh, v.name_en, a.resident_id, r.name, a.device_id, a.bundle, a.items, \
                a.status, a.revision, a.received_at, a.deadline \
         FROM applications a JOIN villages v ON v.id = a.village_id JOIN residents r ON r.id = a.resident_id \
         WHERE {} ORDER BY a.deadline, a.received_at, a.id LIMIT {}",
        conds.join(" AND "),
        placeholder(params.len())
    );
    (sql, params)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::model::VillageId;

    #[test]
    fn only_set_filters_appear_and_placeholders_count_up() {
        let f = InboxFilter { village: Some(VillageId(7)), item: Some("elderly_card".into()), ..Default::default() };
        let (sql, params) = inbox_query(TownshipId(1), &f, None, 50, |n| format!("${n}"));
        assert!(sql.contains("a.village_id = $2") && sql.contains("i.item = $3") && sql.ends_with("LIMIT $4"), "{sql}");
        assert!(!sql.contains("a.status ="));
        assert_eq!(params, vec![Param::Int(1), Param::Int(7), Param::Text("elderly_card".into()), Param::Int(50)]);
        let after = InboxCursor { deadline: NaiveDate::MIN, received_at: Utc::now(), id: daiban_proto::ApplicationId::new() };
        let (sql, params) = inbox_query(TownshipId(1), &InboxFilter::default(), Some(&after), 5, |n| format!("?{n}"));
        assert!(sql.contains("> (?2, ?3, ?4)") && sql.ends_with("LIMIT ?5"), "{sql}");
        assert_eq!(params.len(), 5);
    }

    #[test]
    fn open_filter_matches_the_partial_index_predicate() {
        let (sql, params) = inbox_query(TownshipId(1), &InboxFilter { open: true, ..Default::default() }, None, 5, |n| format!("?{n}"));
        let predicate = "status IN ('received', 'accepted', 'approved', 'result_ready')";
        assert!(sql.contains(&format!("a.{predicate}")), "{sql}");
        assert_eq!(params.len(), 2);
        for migration in [include_str!("migrations/sqlite/V2__staff_web.sql"), include_str!("migrations/postgres/V2__staff_web.sql")] {
            assert!(migration.contains(&format!("WHERE {predicate}")));
        }
    }
}
