/** User-Agent of every HTTP request a sink sends. */
export const USER_AGENT = 'Peregrine/0.1';
