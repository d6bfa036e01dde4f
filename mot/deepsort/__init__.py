"""DeepSORT: appearance and motion association with a matching cascade."""
