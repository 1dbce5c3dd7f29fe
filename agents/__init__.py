from agents.household import Household
from agents.place import CountyUnit

__all__ = ["Household", "CountyUnit"]
