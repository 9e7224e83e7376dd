//! The visitor page of a share link, `/s/{token}`: server-rendered HTML that
//! works without JavaScript. A password (if the link has one) is posted in a
//! form, never put in a URL; a visit cookie scoped to the link's path then
//! admits the visitor. Every image on the page is a signed `/r/` URL issued
//! to the visit, decided again by the policy at each request.

use poem::http::{HeaderValue, StatusCode, header};
use poem::web::{Data, Form, Path};
use poem::{Request, Response, handler};
use sea_orm::EntityTrait;
use serde::Deserialize;
use vitrine_entity::ShareScope;
use vitrine_entity::entities::{asset, derivative_profile, share_link, share_visit};
use vitrine_entity::policy::{Actor, LinkState, authorize_profile};

use super::{App, request_meta};
use crate::delivery::{DeliveryKind, issue_derivative_for_visit, issue_for_visit};
use crate::error::ApiError;
use crate::services::share_links;
use crate::state::AppState;

/// The cookie that carries a visit (its path is the link's page).
const VISIT_COOKIE: &str = "vitrine_visit";

/// Escapes text for HTML content and attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;background:#f6f5f3;color:#1d1d1b}\
main{max-width:72rem;margin:0 auto;padding:2rem 1rem}\
h1{font-weight:600;font-size:1.4rem}\
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(14rem,1fr));gap:1rem;list-style:none;padding:0}\
.asset{background:#fff;border-radius:6px;padding:.5rem;box-shadow:0 1px 2px #0002}\
.asset img{width:100%;height:12rem;object-fit:contain;background:#eee}\
.asset p{margin:.4rem 0;font-size:.9rem;overflow-wrap:anywhere}\
.download{display:inline-block;padding:.3rem .7rem;background:#1d1d1b;color:#fff;border-radius:4px;text-decoration:none;font-size:.85rem}\
form{background:#fff;padding:1.5rem;border-radius:6px;max-width:22rem}\
input,button{font:inherit;padding:.4rem;margin:.3rem 0}\
.error{color:#a00}";

/// A complete page with the security headers every `/s/` response carries.
fn page(state: &AppState, status: StatusCode, title: &str, body: &str) -> Response {
    let nonce = crate::security::generate_token("").unwrap_or_else(|_| "n".into());
    let img_src = match state.config.delivery.public_url.as_deref() {
        Some(origin) => format!("'self' {origin}"),
        None => "'self'".to_owned(),
    };
    let csp = format!(
        "default-src 'none'; img-src {img_src}; style-src 'nonce-{nonce}'; form-action 'self'; \
         frame-ancestors 'none'; base-uri 'none'"
    );
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex,nofollow\">\
         <title>{}</title><style nonce=\"{nonce}\">{STYLE}</style></head>\
         <body><main>{body}</main></body></html>\n",
        esc(title)
    );
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
        .header(header::CACHE_CONTROL, "no-store")
        .header("Content-Security-Policy", csp)
        .header("X-Robots-Tag", "noindex, nofollow")
        // `same-origin`, not `no-referrer`: under `no-referrer` the browser
        // sends `Origin: null` with the password form, which the cross-site
        // check must refuse. Nothing leaves for another origin either way.
        .header("Referrer-Policy", "same-origin")
        .header("X-Frame-Options", "DENY")
        .body(html)
}

/// The one page for every link that cannot be used: it says nothing about
/// what the link held, nor why (410 for a link that ended, 404 otherwise).
fn unavailable(state: &AppState, gone: bool) -> Response {
    let status = if gone {
        StatusCode::GONE
    } else {
        StatusCode::NOT_FOUND
    };
    page(
        state,
        status,
        "Link unavailable",
        "<h1 id=\"unavailable\">This link is unavailable</h1>\
         <p>It may have expired or been withdrawn. Ask the person who sent it for a new one.</p>",
    )
}

fn failed(state: &AppState, e: &ApiError) -> Response {
    if let ApiError::Internal(source) = e {
        ApiError::log_internal(source.as_ref());
    }
    page(
        state,
        StatusCode::SERVICE_UNAVAILABLE,
        "Try again",
        "<h1>Something went wrong</h1><p>Please try again in a moment.</p>",
    )
}

fn password_form(state: &AppState, token: &str, status: StatusCode, message: &str) -> Response {
    let message = if message.is_empty() {
        String::new()
    } else {
        format!("<p class=\"error\" id=\"message\">{}</p>", esc(message))
    };
    page(
        state,
        status,
        "Password required",
        &format!(
            "<h1>This link is protected</h1>{message}\
             <form method=\"post\" action=\"/s/{}\">\
             <label for=\"password\">Password</label><br>\
             <input type=\"password\" id=\"password\" name=\"password\" required autocomplete=\"off\" autofocus><br>\
             <button type=\"submit\" id=\"open\">Open</button></form>",
            esc(token)
        ),
    )
}

/// The visit cookie's value from the request, if any.
fn visit_cookie(req: &Request) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == VISIT_COOKIE)
        .map(|(_, value)| value.trim().to_owned())
}

/// Whether responses go out over TLS (then the cookie is `Secure`).
fn over_tls(state: &AppState, req: &Request) -> bool {
    state
        .config
        .delivery
        .public_url
        .as_deref()
        .is_some_and(|u| u.starts_with("https://"))
        || (state.config.trust_proxy_headers
            && req
                .header("x-forwarded-proto")
                .is_some_and(|p| p.eq_ignore_ascii_case("https")))
}

fn set_cookie(
    state: &AppState,
    req: &Request,
    token: &str,
    value: &str,
    visit: &share_visit::Model,
) -> String {
    let max_age = (visit.expires_at - state.clock.now()).num_seconds().max(0);
    let secure = if over_tls(state, req) { "; Secure" } else { "" };
    format!(
        "{VISIT_COOKIE}={value}; Path=/s/{token}; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"
    )
}

/// Whether a link that is not active still lets an admitted visitor in:
/// only a used-up `maxViews` does (it caps new visits, not running ones).
fn admits_running_visits(state: LinkState) -> bool {
    matches!(state, LinkState::Active | LinkState::Exhausted)
}

#[handler]
pub async fn show(req: &Request, Path(token): Path<String>, Data(app): Data<&App>) -> Response {
    let state = &app.state;
    let link = match share_links::find_by_token(state, &token).await {
        Ok(Some(link)) => link,
        Ok(None) => return unavailable(state, false),
        Err(e) => return failed(state, &e),
    };
    let now = state.clock.now();
    let link_state = link.state(now);
    if !admits_running_visits(link_state) {
        return unavailable(state, link_state != LinkState::NotStarted);
    }
    let visit = match visit_cookie(req) {
        Some(cookie) => match share_links::visit_of_cookie(state, link.id, &cookie).await {
            Ok(v) => v,
            Err(e) => return failed(state, &e),
        },
        None => None,
    };
    if let Some(visit) = visit {
        return render(state, &link, &visit, None).await;
    }
    if link_state != LinkState::Active {
        return unavailable(state, true);
    }
    if link.password_hash.is_some() {
        return password_form(state, &token, StatusCode::OK, "");
    }
    let meta = request_meta(req, state.config.trust_proxy_headers);
    match share_links::start_visit(state, &link, &meta).await {
        Ok(Some((visit, cookie))) => {
            let set = set_cookie(state, req, &token, &cookie, &visit);
            render(state, &link, &visit, Some(set)).await
        }
        Ok(None) => unavailable(state, true),
        Err(e) => failed(state, &e),
    }
}

#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    password: String,
}

#[handler]
pub async fn unlock(
    req: &Request,
    Path(token): Path<String>,
    form: Option<Form<PasswordForm>>,
    Data(app): Data<&App>,
) -> Response {
    let state = &app.state;
    let link = match share_links::find_by_token(state, &token).await {
        Ok(Some(link)) => link,
        Ok(None) => return unavailable(state, false),
        Err(e) => return failed(state, &e),
    };
    let link_state = link.state(state.clock.now());
    if link_state != LinkState::Active {
        return unavailable(state, link_state != LinkState::NotStarted);
    }
    let see_page = || {
        Response::builder()
            .status(StatusCode::SEE_OTHER)
            .header(header::LOCATION, format!("/s/{token}"))
            .header(header::CACHE_CONTROL, "no-store")
            .finish()
    };
    if link.password_hash.is_none() {
        return see_page();
    }
    let password = form.map(|Form(f)| f.password).unwrap_or_default();
    let meta = request_meta(req, state.config.trust_proxy_headers);
    match share_links::try_password(state, &link, &password, &meta).await {
        Ok(true) => {}
        Ok(false) => {
            return password_form(
                state,
                &token,
                StatusCode::UNAUTHORIZED,
                "That password is not right.",
            );
        }
        Err(ApiError::TooManyRequests { retry_after_secs }) => {
            let mut r = password_form(
                state,
                &token,
                StatusCode::TOO_MANY_REQUESTS,
                &format!(
                    "Too many wrong passwords. Try again in {} minutes.",
                    retry_after_secs.div_ceil(60)
                ),
            );
            if let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return r;
        }
        Err(e) => return failed(state, &e),
    }
    match share_links::start_visit(state, &link, &meta).await {
        Ok(Some((visit, cookie))) => {
            let set = set_cookie(state, req, &token, &cookie, &visit);
            let mut r = see_page();
            if let Ok(v) = HeaderValue::from_str(&set) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            r
        }
        Ok(None) => unavailable(state, true),
        Err(e) => failed(state, &e),
    }
}

/// The grid of what the link shows now, with download buttons where its
/// scope allows them.
async fn render(
    state: &AppState,
    link: &share_link::Model,
    visit: &share_visit::Model,
    set_cookie: Option<String>,
) -> Response {
    let assets: Vec<asset::Model> =
        match crate::services::link_content::deliverable(state, link).await {
            Ok(a) => a,
            Err(e) => return failed(state, &e),
        };
    let download = match link.scope {
        ShareScope::Preview => None,
        ShareScope::LowresDownload => Some((DeliveryKind::Lowres, "Download")),
        ShareScope::Download => Some((DeliveryKind::Original, "Download original")),
    }
    .filter(|_| link.downloads_left());
    // The link's derivative profile, while it exists and visitors may
    // receive it (else the THUMBNAIL rendition).
    let profile = match link.profile_id {
        Some(id) => match derivative_profile::Entity::find_by_id(id)
            .one(&state.db)
            .await
        {
            Ok(p) => p.filter(|p| {
                let visitor = Actor::Visitor {
                    share_link_id: link.id,
                };
                authorize_profile(&visitor, &p.facts()).is_ok()
            }),
            Err(e) => return failed(state, &e.into()),
        },
        None => None,
    };
    let mut items = String::new();
    for a in &assets {
        let (Ok(thumbnail), Ok(preview)) = (
            issue_for_visit(state, visit, a, DeliveryKind::Thumbnail),
            issue_for_visit(state, visit, a, DeliveryKind::Preview),
        ) else {
            continue;
        };
        let image = match &profile {
            Some(p) => match issue_derivative_for_visit(state, visit, a, p) {
                Ok(links) if !links.is_empty() => {
                    let srcset = links
                        .iter()
                        .map(|l| format!("{} {}x", l.url, l.dpr))
                        .collect::<Vec<_>>()
                        .join(", ");
                    format!(
                        "<img src=\"{}\" srcset=\"{}\" alt=\"{}\">",
                        esc(&links[0].url),
                        esc(&srcset),
                        esc(&a.title)
                    )
                }
                _ => continue,
            },
            None => format!(
                "<img src=\"{}\" alt=\"{}\">",
                esc(&thumbnail),
                esc(&a.title)
            ),
        };
        let button = match download {
            Some((kind, label)) => match issue_for_visit(state, visit, a, kind) {
                Ok(url) => format!(
                    "<a class=\"download\" href=\"{}\" download>{label}</a>",
                    esc(&url)
                ),
                Err(_) => String::new(),
            },
            None => String::new(),
        };
        items.push_str(&format!(
            "<li class=\"asset\"><a class=\"preview\" href=\"{}\">{image}</a><p>{}</p>{button}</li>",
            esc(&preview),
            esc(&a.title),
        ));
    }
    let heading = link.label.as_deref().unwrap_or("Shared images");
    let body = if items.is_empty() {
        format!(
            "<h1>{}</h1><p id=\"empty\">Nothing to show here right now.</p>",
            esc(heading)
        )
    } else {
        format!(
            "<h1>{}</h1><p>Available until {} UTC.</p><ul class=\"grid\">{items}</ul>",
            esc(heading),
            link.expires_at.format("%Y-%m-%d %H:%M")
        )
    };
    let mut r = page(state, StatusCode::OK, heading, &body);
    if let Some(set) = set_cookie
        && let Ok(v) = HeaderValue::from_str(&set)
    {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            esc("<img src=x onerror=\"a\">&'"),
            "&lt;img src=x onerror=&quot;a&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn only_a_used_up_view_cap_lets_running_visits_continue() {
        assert!(admits_running_visits(LinkState::Active));
        assert!(admits_running_visits(LinkState::Exhausted));
        for s in [
            LinkState::Revoked,
            LinkState::Expired,
            LinkState::NotStarted,
        ] {
            assert!(!admits_running_visits(s));
        }
    }
}
