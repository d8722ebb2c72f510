//! rampart-proxy
