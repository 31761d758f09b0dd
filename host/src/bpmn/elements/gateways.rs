//! Gateways: exclusive, parallel, inclusive and event-based. They have no
//! content the engine reads; which flows they take is the engine's routing
//! (an event-based gateway's is the first of its events to happen), and that
//! they have a way out is a structure check of their scope.

use super::super::spec::NodeKind;
use super::super::vocabulary::GatewayElem;

/// The kind of a closed gateway.
pub(super) fn kind(elem: GatewayElem) -> NodeKind {
    match elem {
        GatewayElem::Exclusive => NodeKind::ExclusiveGateway,
        GatewayElem::Parallel => NodeKind::ParallelGateway,
        GatewayElem::Inclusive => NodeKind::InclusiveGateway,
        GatewayElem::EventBased => NodeKind::EventBasedGateway,
    }
}
