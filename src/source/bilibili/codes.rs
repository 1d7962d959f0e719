//! Bilibili's body `code`s and what each means for the poller: risk control
//! backs off at least a minute, closed or missing videos stop, a login is
//! asked for. Never echoes a URL or a cookie into an error.

use std::time::Duration;

use serde_json::Value;

use super::super::SourceError;

/// The least wait after risk control. Community reports speak of bans of
/// 15–30 minutes for clients that keep asking, so never retry within a minute.
pub(super) const RISK_BACKOFF: Duration = Duration::from_secs(60);

/// Random extra wait after risk control, so several videos polled from one
/// IP do not all come back in the same second.
pub(super) const RISK_JITTER_MS: u64 = 30_000;

/// Bilibili's risk control often answers with an HTML page and HTTP 412,
/// which `Http::json` reports as a transient error with a plain retry. A
/// block must still back off for minutes, so the status is read back from
/// the reason `Http::json` writes (it ends in "(HTTP 412)").
pub(super) fn blocked_page(e: SourceError) -> SourceError {
    match e {
        SourceError::Transient { reason, .. } if reason.ends_with("(HTTP 412)") => {
            risk_control(&format!("HTTP 412, {reason}"))
        }
        other => other,
    }
}

/// A risk-control error: at least a minute, plus jitter.
pub(super) fn risk_control(what: &str) -> SourceError {
    let jitter = Duration::from_millis(rand::random_range(0..=RISK_JITTER_MS));
    SourceError::Transient {
        reason: format!("Bilibili risk control ({what}): backing off"),
        retry_after: Some(RISK_BACKOFF + jitter),
    }
}

/// The body's `code`, which is authoritative over the HTTP status.
pub(super) fn body_code(body: &Value) -> Option<i64> {
    body.get("code").and_then(Value::as_i64)
}

/// True when the response blames the signature: re-sign with fresh keys.
pub(super) fn wants_new_signature(body: &Value) -> bool {
    match body_code(body) {
        Some(-352 | -403) => true,
        Some(0) => body["data"].get("v_voucher").is_some(),
        _ => false,
    }
}

pub(super) fn is_risk_code(code: i64) -> bool {
    matches!(code, -412 | -352 | -799 | -509)
}

/// A code with its documented meaning, e.g. `-412 请求被拦截`.
pub(super) fn describe(code: i64) -> String {
    let meaning = match code {
        -101 => "账号未登录",
        -352 => "风控校验失败",
        -400 => "请求错误",
        -403 => "访问权限不足",
        -404 => "啥都木有",
        -412 => "请求被拦截",
        -509 => "超出限制",
        -799 => "请求过于频繁",
        12002 => "评论区已关闭",
        12009 => "评论主体的type不合法",
        _ => return code.to_string(),
    };
    format!("{code} {meaning}")
}

/// The error for a non-zero body code.
pub(super) fn code_error(code: i64, message: Option<&str>) -> SourceError {
    match code {
        c if is_risk_code(c) => risk_control(&describe(c)),
        12002 => SourceError::Stopped {
            reason: "comments are closed on this video (12002)".into(),
        },
        -404 => SourceError::Stopped {
            reason: "Bilibili has no such video (-404 啥都木有)".into(),
        },
        -400 | 12009 => SourceError::Stopped {
            reason: format!(
                "Bilibili refused the request as malformed ({})",
                describe(code)
            ),
        },
        -101 => SourceError::Login {
            reason:
                "Bilibili wants a login for these comments (-101 账号未登录): set BILIBILI_COOKIE"
                    .into(),
        },
        -403 => SourceError::transient(
            "Bilibili refused the WBI signature even with fresh keys (-403 访问权限不足)",
        ),
        _ => {
            // The server's own words help with unknown codes, but they are
            // untrusted: keep only a short, single-line message that could not
            // be echoing a URL or a cookie pair back at us.
            let detail = message
                .map(str::trim)
                .filter(|m| {
                    !m.is_empty()
                        && m.chars().count() <= 60
                        && !m.chars().any(char::is_control)
                        && !m.contains("://")
                        && !m.contains('=')
                })
                .map(|m| format!(": {m}"))
                .unwrap_or_default();
            SourceError::transient(format!("Bilibili answered with error code {code}{detail}"))
        }
    }
}
