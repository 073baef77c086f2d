//! The Intacct fault wrapper.
