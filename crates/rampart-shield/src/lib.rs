//! rampart-shield
