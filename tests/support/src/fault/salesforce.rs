//! The Salesforce fault wrapper.
