"""Small article sets that several test modules build indexes from."""

# Two articles that name the same person: their answers become one, with `also_in`.
AGREEING = {
    "one.txt": "The new harbour bridge was opened on Saturday by Mayor Katarina Olsson, "
    "who cut the ribbon in front of a large crowd.\n",
    "two.txt": "Crowds gathered at the waterfront. Mayor Katarina Olsson opened the harbour "
    "bridge and thanked the engineers who built it.\n",
}

# Two reports of one attack that give different numbers of rockets: a conflict.
DISAGREEING = {
    "army.txt": "The base near Kirkuk came under attack on Friday night. Thirty-one rockets "
    "were fired at the base, the army said, and two soldiers were wounded.\n",
    "officials.txt": "Officials described the attack on the Kirkuk base. About 30 rockets "
    "were fired at the base, they said, most of them landing outside its walls.\n",
}
