"""Host-side drivers of the kernels, one per device, with one interface."""
