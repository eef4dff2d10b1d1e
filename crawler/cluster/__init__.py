"""Scale-out over Redis: what workers and the ingester share (`shared`), the request
queue, the wire format, the worker and the ingester."""
