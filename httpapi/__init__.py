"""The HTTP side: JSON account endpoints, health and metrics, served by hypercorn in the node's trio loop."""
