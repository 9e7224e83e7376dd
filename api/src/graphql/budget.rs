//! Limits on what one request may make the server do, checked before any
//! resolver runs: a field may not be selected more than `max_aliases` times
//! in one selection (aliases of an expensive field multiply its cost), and
//! the operations of one batched HTTP request share one complexity budget —
//! each waits until all have been validated, and if together they cost more
//! than the limit, none runs.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextPrepareRequest, NextRequest,
    NextValidation,
};
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{Request, Response, ServerError, ServerResult, ValidationResult, Variables};
use tokio::sync::watch;

/// The complexity budget one HTTP request's operations share.
#[derive(Debug)]
pub struct BatchBudget {
    limit: usize,
    /// (operations not yet validated, complexity of those validated)
    state: watch::Sender<(usize, usize)>,
}

impl BatchBudget {
    pub fn new(operations: usize, limit: usize) -> Arc<Self> {
        Arc::new(Self {
            limit,
            state: watch::Sender::new((operations, 0)),
        })
    }

    /// One operation is validated (with its complexity; 0 when it failed).
    fn arrive(&self, complexity: usize) {
        self.state.send_modify(|(pending, spent)| {
            *pending = pending.saturating_sub(1);
            *spent = spent.saturating_add(complexity);
        });
    }

    /// The total, once every operation has been validated.
    async fn total(&self) -> usize {
        let mut rx = self.state.subscribe();
        match rx.wait_for(|(pending, _)| *pending == 0).await {
            Ok(state) => state.1,
            Err(_) => usize::MAX,
        }
    }
}

fn too_complex(message: String) -> ServerError {
    super::coded(message, "QUERY_TOO_COMPLEX")
}

/// Refuses a document in which a selection names one field (or spreads
/// one fragment) more than `max` times.
pub fn check_aliases(document: &ExecutableDocument, max: usize) -> Result<(), ServerError> {
    let mut sets: Vec<&SelectionSet> = document
        .operations
        .iter()
        .map(|(_, op)| &op.node.selection_set.node)
        .collect();
    sets.extend(
        document
            .fragments
            .values()
            .map(|f| &f.node.selection_set.node),
    );
    while let Some(set) = sets.pop() {
        let mut counts: HashMap<(bool, &str), usize> = HashMap::new();
        for selection in &set.items {
            let key = match &selection.node {
                Selection::Field(field) => {
                    sets.push(&field.node.selection_set.node);
                    (false, field.node.name.node.as_str())
                }
                Selection::FragmentSpread(spread) => {
                    (true, spread.node.fragment_name.node.as_str())
                }
                Selection::InlineFragment(inline) => {
                    sets.push(&inline.node.selection_set.node);
                    continue;
                }
            };
            let n = counts.entry(key).or_default();
            *n += 1;
            if *n > max {
                let what = if key.0 { "fragment" } else { "field" };
                return Err(too_complex(format!(
                    "the {what} `{}` is selected more than {max} times in one selection",
                    key.1
                )));
            }
        }
    }
    Ok(())
}

pub struct RequestLimits {
    pub max_aliases: usize,
}

impl ExtensionFactory for RequestLimits {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(RequestLimitsExtension {
            max_aliases: self.max_aliases,
            budget: std::sync::Mutex::new(None),
            arrived: AtomicBool::new(false),
        })
    }
}

struct RequestLimitsExtension {
    max_aliases: usize,
    /// The batch this operation belongs to, if any.
    budget: std::sync::Mutex<Option<Arc<BatchBudget>>>,
    /// Whether this operation has reported to its batch.
    arrived: AtomicBool,
}

impl RequestLimitsExtension {
    fn budget(&self) -> Option<Arc<BatchBudget>> {
        self.budget
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn arrive(&self, complexity: usize) {
        if !self.arrived.swap(true, Ordering::SeqCst)
            && let Some(budget) = self.budget()
        {
            budget.arrive(complexity);
        }
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for RequestLimitsExtension {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let response = next.run(ctx).await;
        // Failed before validation (parse errors and the like): it costs
        // nothing, and the others must not wait for it.
        self.arrive(0);
        response
    }

    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        let budget = request
            .data
            .get(&std::any::TypeId::of::<Arc<BatchBudget>>())
            .and_then(|b| b.downcast_ref::<Arc<BatchBudget>>())
            .cloned();
        *self.budget.lock().unwrap_or_else(|p| p.into_inner()) = budget;
        next.run(ctx, request).await
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        check_aliases(&document, self.max_aliases)?;
        Ok(document)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let result = next.run(ctx).await;
        let Some(budget) = self.budget() else {
            return result;
        };
        self.arrive(result.as_ref().map_or(0, |r| r.complexity));
        let total = budget.total().await;
        let result = result?;
        if total > budget.limit {
            return Err(vec![too_complex(format!(
                "the request's operations together are too complex: {total} > {}",
                budget.limit
            ))]);
        }
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_are_capped_per_selection() {
        let ok = async_graphql::parser::parse_query(
            "{ a: asset(id: 1) { id } b: asset(id: 2) { id } assets { edges { node { id } } } }",
        )
        .unwrap();
        assert!(check_aliases(&ok, 2).is_ok());
        assert!(check_aliases(&ok, 1).is_err());
        let nested = async_graphql::parser::parse_query(
            "{ assets { edges { node { a: url(kind: PREVIEW) b: url(kind: PREVIEW) c: url(kind: PREVIEW) } } } }",
        )
        .unwrap();
        let e = check_aliases(&nested, 2).unwrap_err();
        assert!(e.message.contains("`url`"), "{}", e.message);
        let spreads = async_graphql::parser::parse_query(
            "query { ...F ...F ...F } fragment F on Query { me { id } }",
        )
        .unwrap();
        assert!(check_aliases(&spreads, 2).is_err());
    }

    #[tokio::test]
    async fn a_batch_budget_waits_for_every_operation() {
        let budget = BatchBudget::new(2, 10);
        budget.arrive(4);
        let waiting = tokio::time::timeout(std::time::Duration::from_millis(50), budget.total());
        assert!(waiting.await.is_err());
        budget.arrive(7);
        assert_eq!(budget.total().await, 11);
    }
}
