"""What every part of the server may use and that uses none of them: the configuration (config), the
metrics registry (metrics), the shared-port listening socket (sockets), secrets kept in files
(secretfile) and the client address behind proxies (client_address). Only protocol/ sits below it."""
