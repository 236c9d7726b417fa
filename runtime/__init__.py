"""What every part of the server may use and that uses none of them: the configuration (config), the
metrics registry (metrics), the shared-port listening socket (sockets), secrets kept in files
(secretfile), the client address behind proxies (client_address) and waiting for a change
(notifier). Only protocol/ sits below it."""
