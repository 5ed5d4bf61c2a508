//! Handler projects outside this repository: `stepwasm new <name> --lang
//! python|js` scaffolds one in a directory of its own ([`scaffold`]), and
//! `stepwasm build [dir]` builds it into a component, checks it against the
//! WIT world and its resource's grants, and prints what it imports
//! ([`build`]). The SDKs, the WIT contract and the build driver travel inside
//! the binary ([`embedded`]); the tools that build components are installed
//! on first use ([`tools`]). Rust handlers are built by the repository's
//! guest workspace (`modules/`, scripts/build-guests.sh) for now.

pub mod build;
pub mod embedded;
pub mod scaffold;
pub mod tools;

/// The languages a project can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Language {
    Python,
    Js,
}

impl Language {
    /// The file that holds the handler.
    pub fn entry_file(self) -> &'static str {
        match self {
            Language::Python => "app.py",
            Language::Js => "app.js",
        }
    }

    /// The language of the project in `dir`, by its handler file.
    pub fn of_project(dir: &std::path::Path) -> Option<Language> {
        [Language::Python, Language::Js].into_iter().find(|lang| dir.join(lang.entry_file()).is_file())
    }
}

/// The Lambda ARN a new project's resource is mapped under.
pub fn resource_arn(name: &str) -> String {
    format!("arn:aws:lambda:us-east-1:123456789012:function:{name}")
}
