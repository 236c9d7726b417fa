"""Media: content sniffing, file names, Range parsing, image thumbnails and blob storage."""
