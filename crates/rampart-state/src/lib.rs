//! rampart-state
