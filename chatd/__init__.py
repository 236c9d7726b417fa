"""chatd: the node (config, embedded services, supervision tree) and its command line."""
