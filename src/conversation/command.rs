//! Chat commands the plugin handles itself instead of forwarding.

/// A command typed by the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// `/new`, `/reset`, `新会话`: start a fresh gateway session.
    NewSession,
    /// `/stop`, `停止`: abort the reply in progress.
    Stop,
}

impl Command {
    /// Recognises a command (the whole message, case-insensitive for ASCII).
    pub fn parse(text: &str) -> Option<Command> {
        match text.trim().to_ascii_lowercase().as_str() {
            "/new" | "/reset" | "新会话" => Some(Command::NewSession),
            "/stop" | "停止" => Some(Command::Stop),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_recognised_only_as_whole_messages() {
        assert_eq!(Command::parse(" /NEW "), Some(Command::NewSession));
        assert_eq!(Command::parse("新会话"), Some(Command::NewSession));
        assert_eq!(Command::parse("停止"), Some(Command::Stop));
        assert_eq!(Command::parse("/stop please"), None);
        assert_eq!(Command::parse("hello"), None);
    }
}
