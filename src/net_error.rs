//! Network errors as operators need to read them: the error with its whole cause chain
//! (DNS failure and the name, connection refused and the address, the TLS check that
//! failed, which timeout), never the request URL (a session webhook URL carries a token).

/// `e` and its causes, `outer: inner: innermost`, without the URL.
pub fn describe(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_refused_connection_names_its_cause_and_not_the_url() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let e = reqwest::get(format!(
            "http://127.0.0.1:{port}/robot/send?access_token=SECRET"
        ))
        .await
        .unwrap_err();
        assert!(e.is_connect());
        let text = describe(e);
        assert!(!text.contains("SECRET"), "{text}");
        assert!(text.to_lowercase().contains("refused"), "{text}");
    }
}
