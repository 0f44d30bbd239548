//! redub-pipeline
