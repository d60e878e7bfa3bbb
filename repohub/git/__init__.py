"""git smart HTTP: upload-pack and receive-pack over the network object stores."""
