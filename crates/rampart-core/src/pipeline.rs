//! The ordered stages built from configuration, run phase by phase.

use std::sync::Arc;

use crate::context::{ConnectionInfo, RequestContext, ResponseFacts};
use crate::stage::{OnError, Phase, Stage, StageError, StageMode};
use crate::verdict::{Decision, Verdict};

/// The verdict a phase ends with, and which stage gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The enforced verdict: `Continue` when the request goes on to the next phase, `Allow` when
    /// an allow-list stage let it in and every later stage is skipped.
    pub verdict: Verdict,
    /// The stage whose verdict won, when it was not `Continue`.
    pub stage: Option<&'static str>,
}

impl Outcome {
    fn pass() -> Outcome {
        Outcome { verdict: Verdict::Continue, stage: None }
    }
}

/// The stages, in configured order, and the global mode.
///
/// In each phase stages run in order. An enforced `Allow` ends the phase (and the request skips
/// every later phase's stages too); an enforced `Block` ends it at once; `Throttle` and
/// `Challenge` are remembered while later stages still run, so that a later `Block` wins by
/// [`Verdict::precedence`]. Verdicts of stages in detect mode — or of every stage when the
/// pipeline itself is in detect mode — are recorded in [`RequestContext::decisions`] and
/// not enforced.
#[derive(Clone, Default)]
pub struct Pipeline {
    stages: Vec<Arc<dyn Stage>>,
    mode: StageMode,
}

impl Pipeline {
    pub fn new(stages: Vec<Arc<dyn Stage>>, mode: StageMode) -> Pipeline {
        Pipeline { stages, mode }
    }

    pub fn stages(&self) -> &[Arc<dyn Stage>] {
        &self.stages
    }

    pub fn mode(&self) -> StageMode {
        self.mode
    }

    /// Whether any stage needs the request body buffered.
    pub fn wants_request_body(&self) -> bool {
        self.stages.iter().any(|s| s.wants_request_body())
    }

    /// Whether any stage needs the response body buffered.
    pub fn wants_response_body(&self) -> bool {
        self.stages.iter().any(|s| s.wants_response_body())
    }

    /// Whether any stage reads the request headers after the request phases
    /// ([`Stage::reads_request_headers_late`]).
    pub fn reads_request_headers_late(&self) -> bool {
        self.stages.iter().any(|s| s.reads_request_headers_late())
    }

    /// Whether any stage needs this request's body buffered ([`Stage::wants_request_body_of`]).
    pub fn wants_request_body_of(&self, ctx: &RequestContext) -> bool {
        self.stages.iter().any(|s| s.wants_request_body_of(ctx))
    }

    /// Whether any stage needs this response's body buffered ([`Stage::wants_response_body_of`]).
    pub fn wants_response_body_of(&self, ctx: &RequestContext) -> bool {
        self.stages.iter().any(|s| s.wants_response_body_of(ctx))
    }

    /// Whether any stage can tell who a client is from a request head ([`Stage::identifies`]).
    pub fn can_identify(&self) -> bool {
        self.stages.iter().any(|s| s.identifies())
    }

    /// Fill `ctx.identity` from the identifying stages alone ([`Stage::identifies`]), for a
    /// request head read ahead of its serving. Their verdicts (always `Continue`) and errors
    /// are not recorded: the request goes through the whole pipeline when it is served.
    pub fn identify(&self, ctx: &mut RequestContext) {
        for stage in self.stages.iter().filter(|s| s.identifies()) {
            let _ = stage.on_request_headers(ctx);
        }
    }

    /// The connection phase. Decisions are returned rather than recorded, since no request
    /// exists yet.
    pub fn on_connection(&self, conn: &ConnectionInfo) -> (Outcome, Vec<Decision>) {
        let mut decisions = Vec::new();
        let outcome = self.run(Phase::Connection, &mut decisions, |s| s.on_connection(conn));
        (outcome, decisions)
    }

    pub fn on_request_headers(&self, ctx: &mut RequestContext) -> Outcome {
        let mut decisions = std::mem::take(&mut ctx.decisions);
        let outcome = self.run(Phase::RequestHeaders, &mut decisions, |s| s.on_request_headers(ctx));
        ctx.decisions = decisions;
        outcome
    }

    pub fn on_request_body(&self, ctx: &mut RequestContext, body: &[u8]) -> Outcome {
        if self.allowed(ctx) {
            return Outcome::pass();
        }
        let mut decisions = std::mem::take(&mut ctx.decisions);
        let outcome = self.run(Phase::RequestBody, &mut decisions, |s| {
            if s.wants_request_body_of(ctx) {
                s.on_request_body(ctx, body)
            } else {
                Ok(Verdict::Continue)
            }
        });
        ctx.decisions = decisions;
        outcome
    }

    pub fn on_response_headers(&self, ctx: &mut RequestContext, resp: &ResponseFacts) -> Outcome {
        if self.allowed(ctx) {
            return Outcome::pass();
        }
        let mut decisions = std::mem::take(&mut ctx.decisions);
        let outcome = self.run(Phase::ResponseHeaders, &mut decisions, |s| s.on_response_headers(ctx, resp));
        ctx.decisions = decisions;
        outcome
    }

    pub fn on_response_body(&self, ctx: &mut RequestContext, resp: &ResponseFacts, body: &[u8]) -> Outcome {
        if self.allowed(ctx) {
            return Outcome::pass();
        }
        let mut decisions = std::mem::take(&mut ctx.decisions);
        let outcome = self.run(Phase::ResponseBody, &mut decisions, |s| {
            if s.wants_response_body_of(ctx) {
                s.on_response_body(ctx, resp, body)
            } else {
                Ok(Verdict::Continue)
            }
        });
        ctx.decisions = decisions;
        outcome
    }

    /// The logging phase: every stage sees the finished exchange.
    pub fn on_logging(&self, ctx: &RequestContext, resp: Option<&ResponseFacts>) {
        for stage in &self.stages {
            stage.on_logging(ctx, resp);
        }
    }

    /// True once an enforced `Allow` was given: later phases skip their stages.
    fn allowed(&self, ctx: &RequestContext) -> bool {
        ctx.decisions.iter().any(|d| d.enforced && d.verdict == Verdict::Allow)
    }

    fn run(
        &self,
        _phase: Phase,
        decisions: &mut Vec<Decision>,
        mut hook: impl FnMut(&dyn Stage) -> Result<Verdict, StageError>,
    ) -> Outcome {
        let mut best = Outcome::pass();
        for stage in &self.stages {
            let verdict = match hook(stage.as_ref()) {
                Ok(v) => v,
                Err(err) => match stage.on_error() {
                    OnError::Open => {
                        tracing::warn!(stage = stage.name(), error = %err.message, "stage failed open");
                        Verdict::Continue
                    }
                    OnError::Closed => Verdict::Block { status: 503, reason: "stage failed closed".into() },
                },
            };
            if verdict == Verdict::Continue {
                continue;
            }
            let enforced = self.mode == StageMode::Enforce && stage.mode() == StageMode::Enforce;
            decisions.push(Decision { stage: stage.name(), verdict: verdict.clone(), enforced });
            if !enforced {
                continue;
            }
            match verdict {
                Verdict::Allow => return Outcome { verdict, stage: Some(stage.name()) },
                Verdict::Block { .. } => return Outcome { verdict, stage: Some(stage.name()) },
                _ if verdict.precedence() > best.verdict.precedence() => {
                    best = Outcome { verdict, stage: Some(stage.name()) };
                }
                _ => {}
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Method;
    use std::time::Duration;

    struct Fixed(&'static str, Verdict, StageMode);

    impl Stage for Fixed {
        fn name(&self) -> &'static str {
            self.0
        }
        fn mode(&self) -> StageMode {
            self.2
        }
        fn on_request_headers(&self, _ctx: &mut RequestContext) -> Result<Verdict, StageError> {
            Ok(self.1.clone())
        }
    }

    struct Failing(OnError);

    impl Stage for Failing {
        fn name(&self) -> &'static str {
            "failing"
        }
        fn on_error(&self) -> OnError {
            self.0
        }
        fn on_request_headers(&self, _ctx: &mut RequestContext) -> Result<Verdict, StageError> {
            Err(StageError::new("failing", "store unreachable"))
        }
    }

    fn ctx() -> RequestContext {
        RequestContext::for_test(Method::GET, "/", "192.0.2.1".parse().unwrap())
    }

    fn throttle() -> Verdict {
        Verdict::Throttle { retry_after: Duration::from_secs(2), reason: "rate".into() }
    }

    fn pipeline(stages: Vec<Arc<dyn Stage>>) -> Pipeline {
        Pipeline::new(stages, StageMode::Enforce)
    }

    #[test]
    fn later_block_beats_earlier_throttle() {
        let p = pipeline(vec![
            Arc::new(Fixed("rl", throttle(), StageMode::Enforce)),
            Arc::new(Fixed("deny", Verdict::forbidden("deny"), StageMode::Enforce)),
        ]);
        let mut c = ctx();
        let out = p.on_request_headers(&mut c);
        assert_eq!(out.stage, Some("deny"));
        assert_eq!(c.decisions.len(), 2);
    }

    #[test]
    fn allow_skips_the_rest_and_later_phases() {
        let p = pipeline(vec![
            Arc::new(Fixed("allow", Verdict::Allow, StageMode::Enforce)),
            Arc::new(Fixed("deny", Verdict::forbidden("deny"), StageMode::Enforce)),
        ]);
        let mut c = ctx();
        assert_eq!(p.on_request_headers(&mut c).verdict, Verdict::Allow);
        assert_eq!(c.decisions.len(), 1);
        assert_eq!(p.on_request_body(&mut c, b"x").verdict, Verdict::Continue);
    }

    #[test]
    fn detect_mode_records_but_does_not_enforce() {
        let p = pipeline(vec![Arc::new(Fixed("deny", Verdict::forbidden("deny"), StageMode::Detect))]);
        let mut c = ctx();
        assert_eq!(p.on_request_headers(&mut c).verdict, Verdict::Continue);
        assert_eq!(c.decisions.len(), 1);
        assert!(!c.decisions[0].enforced);

        let global = Pipeline::new(
            vec![Arc::new(Fixed("deny", Verdict::forbidden("deny"), StageMode::Enforce))],
            StageMode::Detect,
        );
        let mut c = ctx();
        assert_eq!(global.on_request_headers(&mut c).verdict, Verdict::Continue);
        assert!(!c.decisions[0].enforced);
    }

    #[test]
    fn stage_errors_follow_on_error() {
        let open = pipeline(vec![Arc::new(Failing(OnError::Open))]);
        assert_eq!(open.on_request_headers(&mut ctx()).verdict, Verdict::Continue);
        let closed = pipeline(vec![Arc::new(Failing(OnError::Closed))]);
        assert!(matches!(closed.on_request_headers(&mut ctx()).verdict, Verdict::Block { status: 503, .. }));
    }
}
