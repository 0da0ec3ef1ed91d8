# This module takes no inputs: it looks up the default VPC of the provider's account and region.
