"""An embedded Soda Cloud simulator: a real HTTP server speaking the published Soda Cloud APIs."""

from exporter.incidents.domain import SEVERITIES, STATUSES
from exporter.simulator.cloud_api import UpdateRecord
from exporter.simulator.faults import FAULT_KINDS, FaultPlan, FaultRule
from exporter.simulator.generator import generate_organization
from exporter.simulator.model import Dataset, Incident, IncidentState, StateChange
from exporter.simulator.organization import Organization
from exporter.simulator.server import RequestRecord, SimulatorServer

__all__ = [
    "FAULT_KINDS",
    "SEVERITIES",
    "STATUSES",
    "Dataset",
    "FaultPlan",
    "FaultRule",
    "Incident",
    "IncidentState",
    "Organization",
    "RequestRecord",
    "SimulatorServer",
    "StateChange",
    "UpdateRecord",
    "generate_organization",
]
